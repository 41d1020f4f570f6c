"""Label Studio ML backend for ReverseNER: the ML-backend protocol on Flask, libraries in Redis."""
