from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import (  # noqa: F401  register with crm and anymail
            demo,
            journey_personal_data,
            line_personal_data,
            panels,
            personal_data,
            receivers,
            segment_fields,
        )

        personal_data.register()
        line_personal_data.register()
        demo.register()
        journey_personal_data.register()

        from crm.registry import (
            COUPON_STEP,
            CancelStep,
            OrderStep,
            ReturnStep,
            register_cancel_step,
            register_mail_preferences_link,
            register_order_step,
            register_return_step,
        )

        from .services import coupons

        # The coupon step of crm's order pipeline: before points (the discount comes off what is paid).
        register_order_step(
            OrderStep(COUPON_STEP, position=10, locks="coupon", prepare=coupons.prepare_order_coupon,
                      write=coupons.write_order_coupon)
        )  # fmt: skip
        register_return_step(ReturnStep(COUPON_STEP, position=10, locks="coupon", write=coupons.give_back_order_coupon))
        register_cancel_step(
            CancelStep(COUPON_STEP, position=10, locks="coupon", write=coupons.release_coupons_of_order)
        )
        # Automatic mails (crm/mail.py) link to the same preference centre as campaign and journey mails.
        register_mail_preferences_link(preferences_url)


def preferences_url(customer) -> str:
    from .conf import base_url
    from .tokens import make_token

    return f"{base_url()}/campaigns/p/{make_token('preferences', campaign_id='', customer_id=customer.public_id)}/"
