"""The marketers' web app: a Gradio front end that only calls the prediction service."""
