"""Whether a shop's "awaiting payment" e-mail carries the invoice PDF as an attachment.

Every buyer e-mail links to the order's invoice (`invoice_url`, a signed link that renders
the PDF when it is opened). By default the "awaiting payment" e-mail also carries the PDF
(SPEC E3: the invoice is an e-mail attachment); a shop that sends many of them may turn
`email_invoice_pdf` off (shop settings): rendering a PDF per e-mail is most of its cost,
and the mail pump sends 2-3x as many mails per second without it (issue 15).
"""

from __future__ import annotations

from storage.models import Shop

INVOICE_PDF_SETTING = "email_invoice_pdf"


def attaches_invoice(shop: Shop) -> bool:
    return bool((shop.settings or {}).get(INVOICE_PDF_SETTING, True))
