"""kaggle-harness: from a competition's name to a scored, fold-ensembled submission."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter off the summary
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"
