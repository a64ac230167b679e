"""Documents of an order: invoice, waybill and bank payment slip (SPEC E1-E3, seeds 001, 002).

Templates the shop can edit (Jinja2 in a sandbox) -> HTML -> PDF (fpdf2), with the order's
Code 128 barcode and the ST00012 payment QR. docs/documents.md is the shops' reference.
"""
