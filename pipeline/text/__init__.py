"""Text infrastructure shared by stages: normalisation, Korean morphology, e5 sentence embeddings."""
