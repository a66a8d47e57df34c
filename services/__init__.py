"""Plain, typed computation behind every page. Never imports streamlit."""
