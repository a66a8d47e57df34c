"""One module per page, each exposing ``INFO`` and ``render()``; ``catalog`` lists them for the router."""
