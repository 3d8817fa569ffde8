"""Into the release pipeline: the audit in the model card (`card`) and in the MLflow tracking store
and model registry (`mlflow_log`). Both read what the audit wrote; neither reruns it."""
