"""Dataset cards for the Hugging Face Hub, publishing datasets and the demo Space, and the provenance
and citations that the model card (``trainer.model_card``) shares with them.

- :mod:`hub_cards.dataset_card`: ``build_dataset_card(dataset)`` from the dataset's ``MSAMetadata``.
- :mod:`hub_cards.push`: ``push_dataset``.
- :mod:`hub_cards.space`: ``push_space(model_id)``, the demo page as a Gradio Space next to the model.
- :mod:`hub_cards.provenance`, :mod:`hub_cards.citations`: what the data is, and the BibTeX of MS-Mix,
  the backbones and the corpora.

Nothing here imports ``trainer``: a trained model's card and its push (``trainer.model_card``,
``trainer.push_model``) are the training run's report and live with it.
"""
