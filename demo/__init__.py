"""The msmix web demo: a Gradio app over the ``multimodal-sentiment`` pipeline (``python -m demo.app``)."""
