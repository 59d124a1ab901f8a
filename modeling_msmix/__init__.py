"""MS-Mix and the six MSA backbones as Hugging Face ``PreTrainedModel`` classes."""
