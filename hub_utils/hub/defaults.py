"""Where this project publishes: the README, the app and the workflows name these repos."""

SPAM_MODEL_REPO = "bert-hub-kit/sms-spam-minilm"
TOPIC_MODEL_REPO = "bert-hub-kit/gnews-ctm-minilm"
SPACE_REPO = "bert-hub-kit/bert-demo"
