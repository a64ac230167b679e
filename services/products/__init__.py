"""Products and stock (issue 19): the catalogue (services.products.catalog), the counts and
their movements inside an order's transaction (services.products.stock), what staff and the
storefront are told (services.products.notices), import and export (services.products.transfer).
"""
