"""The browser benchmark's named peer: the smallest Streamlit page with a slider.

What Streamlit itself costs in this Chromium on this machine, with none of the dashboard's work: a page open
and a slider step here are the floor under the app's rows measured in the same run.
"""

import streamlit as st

st.title("Peer: one slider")
value = st.slider("value", 0, 100, 50)
st.write(f"The slider is at {value}.")
