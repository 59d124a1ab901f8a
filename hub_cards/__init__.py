"""Model and dataset cards for the Hugging Face Hub, and the code that publishes with them.

- :mod:`hub_cards.dataset_card`: ``build_dataset_card(dataset)`` from the dataset's ``MSAMetadata``.
- :mod:`hub_cards.model_card`: ``build_model_card(config, results=..., training_args=...)``.
- :mod:`hub_cards.callback`: ``ModelCardCallback``, a ``TrainerCallback`` that writes the card.
- :mod:`hub_cards.push`: ``push_dataset`` and ``push_trained_model`` (``save_model_for_hub`` locally).
- :mod:`hub_cards.space`: ``push_space(model_id)``, the demo page as a Gradio Space next to the model.
"""
