"""Whether a shop's "awaiting payment" e-mail carries the invoice PDF as an attachment.

Every buyer e-mail links to the order's invoice (`invoice_url`, a signed link that renders
the PDF when it is opened), so by default nothing is attached: rendering a fresh PDF for
each of those e-mails capped the mail pump at ~14 mails/s (issue 15). A shop whose buyers
want the file in the mail itself turns `email_invoice_pdf` on (shop settings).
"""

from __future__ import annotations

from storage.models import Shop

INVOICE_PDF_SETTING = "email_invoice_pdf"


def attaches_invoice(shop: Shop) -> bool:
    return bool((shop.settings or {}).get(INVOICE_PDF_SETTING, False))
