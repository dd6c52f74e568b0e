"""The Streamlit side of rnnlab: the one Lab per server process, shared widgets and the page frame."""
