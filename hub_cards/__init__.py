"""Model and dataset cards for the Hugging Face Hub."""
