"""Where this project publishes: the README, the app and the workflows name these repos."""

SPAM_MODEL_REPO = "bert-hub-kit/sms-spam-minilm"
TOPIC_MODEL_REPO = "bert-hub-kit/gnews-ctm-minilm"
SPACE_REPO = "bert-hub-kit/bert-demo"

# The project's code: cards link it and their usage snippets install ``hub_utils`` from it.
PROJECT_URL = "https://github.com/bert-hub-kit/bert-hub-kit"
INSTALL_LINE = f'pip install "git+{PROJECT_URL}"'
