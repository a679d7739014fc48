import logging

from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from ..normalize import normalize_email
from ..roles import ROLES

logger = logging.getLogger(__name__)


def invite_staff(*, email: str, role: str, display_name: str = "", store=None, invited_by=None):
    """Create a staff account without a password and mail a link to set one (no public sign-up)."""
    User = get_user_model()
    email = normalize_email(email)
    if role not in ROLES:
        raise ValidationError({"role": [_("Choose one of: %s.") % ", ".join(ROLES)]})
    if User.objects.filter(email=email).exists():
        raise ValidationError({"email": [_("A staff user with this email exists.")]})
    with transaction.atomic():
        user = User(email=email, display_name=display_name, store=store, is_staff=role == "admin")
        user.set_unusable_password()
        user.save()
        user.groups.add(Group.objects.get(name=role))
        transaction.on_commit(lambda: send_staff_invitation(user=user))
    logger.info("staff invited user_id=%s role=%s", user.pk, role)
    return user


def send_staff_invitation(*, user) -> None:
    path = reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(user), "key": default_token_generator.make_token(user)},
    )
    with translation.override(user.language):
        context = {"user": user, "url": settings.TSUNAGU_BASE_URL.rstrip("/") + path}
        send_mail(
            subject=str(_("You are invited to Tsunagu")),
            message=render_to_string("crm/email/staff_invitation.txt", context),
            from_email=None,
            recipient_list=[user.email],
        )


def set_staff_language(*, user, language: str) -> None:
    if language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": [_("Unsupported language.")]})
    user.language = language
    user.save(update_fields=["language"])
