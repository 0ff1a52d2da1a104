"""Server-rendered public pages of tenders (filled in below)."""
PAGE_ROUTES: list = []
