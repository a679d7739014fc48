"""The contact hub's part of the demo (crm.demo): customers write by email, chat, LINE, Instagram and
phone through receive_message (some carry on over a second channel, and the hub keeps one ticket),
the web form brings two people who are not members yet (leads), agents log calls, reply by email,
assign and resolve tickets, and customers answer the satisfaction survey through record_csat. Made
once: nothing is written when the demo's messages exist already."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from crm.models import Channel, Customer

from .models import Message, Ticket
from .services.channels import log_call, submit_contact_form
from .services.inbound import receive_message
from .services.tickets import csat_token, record_csat, reply_to_ticket, update_ticket

DEMO_PREFIX = "demo-"
CONVERSATIONS = [
    # (first channel, subject, body, second channel or None, follow-up)
    (
        Channel.EMAIL,
        "サイズ交換について",
        "先週購入したコートのサイズを M から L に交換できますか？",
        Channel.CHAT,
        "先ほどメールした件、店舗での交換でも大丈夫でしょうか。",
    ),
    (
        Channel.CHAT,
        "",
        "注文した商品がまだ届きません。注文番号を確認してもらえますか？",
        Channel.PHONE,
        "チャットの件で電話しました。配送状況を確認してほしいとのこと。",
    ),
    (Channel.LINE, "", "ポイントの有効期限を教えてください。", None, ""),
    (Channel.EMAIL, "ギフト包装", "誕生日プレゼント用にギフト包装をお願いできますか。", None, ""),
    (
        Channel.INSTAGRAM,
        "",
        "新作のニットは渋谷店に在庫ありますか？",
        Channel.EMAIL,
        "Instagram で質問した者です。取り置きもお願いしたいです。",
    ),
    (Channel.CHAT, "", "会員カードを紛失してしまいました。再発行できますか？", None, ""),
    (Channel.EMAIL, "返品したい", "届いた商品に傷がありました。至急返品したいです。", None, ""),
    (
        Channel.LINE,
        "",
        "試着予約の時間を変更したいです。",
        Channel.CHAT,
        "LINE で連絡した件、明日の 15 時でお願いします。",
    ),
    (Channel.EMAIL, "領収書の発行", "オンライン注文の領収書を発行してください。", None, ""),
    (Channel.CHAT, "", "クーポンがアプリで使えません。", None, ""),
    (Channel.EMAIL, "メール配信の停止", "セールのお知らせメールの頻度を減らせますか。", None, ""),
    (Channel.X, "", "横浜店の営業時間を教えてください。", None, ""),
]
REPLY = "お問い合わせありがとうございます。担当の{agent}です。ご依頼の件、確認のうえ対応いたしました。"
COMMENTS = ["丁寧に対応していただきました。", "返信が早くて助かりました。", "", "もう少し早く返事がほしかったです。"]


def demo_contacts(*, rng, seeded, **_) -> str:
    if Message.objects.filter(external_message_id__startswith=DEMO_PREFIX).exists():
        return ""
    User = get_user_model()
    agents = list(User.objects.filter(groups__name="agent", is_active=True).order_by("email")[:2])
    customers = list(
        Customer.objects.filter(merged_into__isnull=True, orders__isnull=False)
        .exclude(email="")
        .distinct()
        .order_by("pk")[: len(CONVERSATIONS) * 3]
    )
    if not customers:
        return ""
    now = timezone.now()
    tickets = []
    for n, (channel, subject, body, then, follow_up) in enumerate(CONVERSATIONS):
        customer = customers[n * 3 % len(customers)]
        at = now - timedelta(days=n % 6, hours=1 + n)
        message, _ = receive_message(
            channel=channel, sender={"email": customer.email}, body=body, subject=subject, sent_at=at,
            external_message_id=f"{DEMO_PREFIX}{n}-1",
        )  # fmt: skip
        ticket = message.ticket
        if then == Channel.PHONE and agents:
            log_call(customer=customer, user=agents[0], body=follow_up, ticket=ticket)
        elif then:
            receive_message(
                channel=then, sender={"email": customer.email}, body=follow_up, sent_at=at + timedelta(minutes=40),
                external_message_id=f"{DEMO_PREFIX}{n}-2",
            )  # fmt: skip
        tickets.append(ticket)
    for name, email, subject, body in [
        ("新井 花子", "hanako.arai@example.jp", "法人での大量注文", "制服用に 50 着まとめて注文できますか？"),
        ("Tom Baker", "tom.baker@example.com", "Tax-free shopping", "Can I shop tax-free at the Shibuya store?"),
    ]:
        submit_contact_form(name=name, email=email, phone="", subject=subject, body=body)
    # The admin `make run` prints a login for has some open tickets of its own, so its inbox
    # ("Mine") opens with work in it.
    admin = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    replied = resolved = answered = 0
    for n, ticket in enumerate(tickets):
        if n % 4 == 3:
            if admin is not None:
                update_ticket(ticket=Ticket.objects.get(pk=ticket.pk), actor=admin, assignee=admin)
            continue
        if not agents:
            continue
        agent = agents[n % len(agents)]
        ticket = Ticket.objects.get(pk=ticket.pk)
        update_ticket(ticket=ticket, actor=agent, assignee=agent)
        reply_to_ticket(ticket=ticket, user=agent, body=REPLY.format(agent=agent.display_name), channel=Channel.EMAIL)
        replied += 1
        if n % 2 == 0:
            update_ticket(ticket=Ticket.objects.get(pk=ticket.pk), actor=agent, status=Ticket.Status.RESOLVED)
            resolved += 1
            if n % 6 != 4:
                record_csat(
                    token=csat_token(ticket), score=rng.choice([5, 5, 4, 4, 3, 2]), comment=rng.choice(COMMENTS)
                )
                answered += 1
    return (
        f"{len(tickets)} conversations ({sum(1 for c in CONVERSATIONS if c[3])} continued on another channel), "
        f"2 web-form leads, {replied} replies by email, {resolved} resolved, {answered} survey answers"
    )


def register() -> None:
    from crm.registry import DemoStep, register_demo_step

    register_demo_step(DemoStep("channels_hub.contacts", demo_contacts, position=60))
