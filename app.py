"""Router: page config, navigation over the pages in ``views.catalog``, and the shared sidebar."""

from functools import partial

import streamlit as st

from components import chart_frame, memory, warmup
from views import home
from views.catalog import tool_pages

st.set_page_config(page_title="Explorable ML", page_icon=":material/explore:", layout="wide")
warmup.start()  # once per process: every page warmed in the background, then the heap frozen for the GC
memory.start()  # once per process: free heap pages go back to the OS when sessions leave

tools = [
    (info, st.Page(info.render, title=info.title, icon=info.icon, url_path=info.url_path)) for info in tool_pages()
]
home_page = st.Page(partial(home.render, tools), title="Home", icon=":material/home:", url_path="home", default=True)
navigation = st.navigation([home_page, *(page for _, page in tools)])

with st.sidebar:
    st.caption("Explorable ML · every number computed and tested in `services/` · state is kept in the URL")

chart_frame.whole_pixel_charts()  # a new plotly chart drawn once, not twice
navigation.run()
