"""One module per page, each exposing ``render()``; ``catalog`` lists them for the router."""
