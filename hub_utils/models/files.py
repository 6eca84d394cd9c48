"""The files of a saved model folder, by model kind. Nothing else: both loaders, the training
commands and the publish tools name the files from here."""

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"
EVAL_RESULTS_FILE = "eval_results.json"
TRAINING_CONFIG_FILE = "training_config.json"

# The classifier: transformers' files, plus its int8 ONNX export (written by ``train classify``).
CLASSIFIER_TOKENIZER_FILE = "tokenizer.json"
CLASSIFIER_ONNX_FILE = "onnx/model_quantized.onnx"
CLASSIFIER_ONNX_RESULTS = "test_onnx_int8"  # eval_results.json key: the export's test metrics

# The topic model: vocabulary and top words beside the weights.
VOCAB_FILE = "vocab.json"
TOPICS_FILE = "topics.json"
BETA_KEY = "beta"  # the topic-word matrix in model.safetensors
# The decoder's batch norm of the topic-word matrix, whose running statistics turn ``beta`` into
# the word logits of a topic (hub_utils.models.topic_words.word_logits).
BETA_NORM_MEAN_KEY = "beta_batchnorm.running_mean"
BETA_NORM_VAR_KEY = "beta_batchnorm.running_var"
# The intertopic distance map: positions and prevalences (hub_utils.models.topic_map).
TOPIC_MAP_FILE = "topic_map.json"
# The sentence encoder and the topic network in one graph, and the encoder's tokenizer set up
# to truncate and pad as sentence-transformers does (written by ``train topics``).
TOPIC_ONNX_FILE = "onnx/topic_model.onnx"
TOPIC_ONNX_TOKENIZER_FILE = "onnx/tokenizer.json"
