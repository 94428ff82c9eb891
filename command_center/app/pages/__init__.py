"""One module per page; each exposes ``page(app) -> Viewable`` built per browser session."""
