"""Reusable Streamlit pieces: they draw and return the user's choices; no domain math."""
