"""A Contextualized Topic Model that saves to and loads from the Hub in safe formats only.

The network is the ``contextualized-topic-models`` package's own ``DecoderNetwork`` (ProdLDA fed
with sentence embeddings, CombinedTM or ZeroShotTM). A saved folder holds ``config.json``,
``model.safetensors``, ``vocab.json`` and ``topics.json``: no pickle, so loading runs no code
from the folder, and no training corpus is needed to predict. ``train topics`` adds
``onnx/topic_model.onnx``, which ``hub_utils.models.topic_onnx`` serves without torch.

    >>> model = TopicModel.from_pretrained("bert-hub-kit/gnews-ctm-minilm")  # or a folder
    >>> model.topics(5)[0]
    >>> model.predict(["stocks fall as oil prices climb"])  # (1, n_topics), rows sum to 1
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from contextualized_topic_models.networks.decoding_network import DecoderNetwork
from huggingface_hub import ModelCard, ModelHubMixin, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError
from safetensors.torch import load_file, save_file
from scipy import sparse
from torch import nn

from hub_utils.errors import NotAModelFolderError
from hub_utils.hub.defaults import PROJECT_URL
from hub_utils.models.bag_of_words import bag_of_words
from hub_utils.models.encoder import DEFAULT_ENCODER, resolve_encoder
from hub_utils.models.files import (
    CARD_FILE,
    CONFIG_FILE,
    EVAL_RESULTS_FILE,
    TOPIC_ONNX_FILE,
    TOPICS_FILE,
    TRAINING_CONFIG_FILE,
    VOCAB_FILE,
    WEIGHTS_FILE,
)
from hub_utils.models.json_files import read_json, write_json
from hub_utils.models.metadata import DEFAULT_LICENSE, public_model_id
from hub_utils.models.texts import check_texts
from hub_utils.models.topic_card import LIBRARY_NAME, TAGS, topic_card
from hub_utils.models.topic_words import top_words, word_logits

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_TYPES = ("combined", "zeroshot")
TOPIC_WORDS_SAVED = 25  # words per topic in topics.json: enough for topic diversity at 25
# Up to this many texts, predict runs on one thread (see predict).
_ONE_THREAD_BATCH = 16

# Set by DecoderNetwork.forward as an alias of ``beta``; a fresh network lacks it.
_ALIAS_KEYS = ("topic_word_matrix",)


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` PyTorch intra-op threads, then restore the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def load_encoder(name: str) -> SentenceTransformer:
    """The sentence-transformers model ``name`` (a Hub id or folder; the default is packaged)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(resolve_encoder(name))


def embed(
    encoder: SentenceTransformer,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    show_progress_bar: bool = False,
) -> np.ndarray:
    """Sentence embeddings of ``texts`` as float32, shape ``(len(texts), dim)``.

    Training and ``predict`` both call this, so a text gets the same embedding either way.
    """
    vectors = encoder.encode(
        list(texts),
        batch_size=batch_size,
        show_progress_bar=show_progress_bar,
        convert_to_numpy=True,
    )
    return np.asarray(vectors, dtype=np.float32)


class TopicModel(
    nn.Module,
    ModelHubMixin,
    # The code that loads this format is this project's, not upstream CTM's (which pickles).
    library_name=LIBRARY_NAME,
    tags=list(TAGS),  # a copy: the mixin extends the list it gets
    repo_url=PROJECT_URL,
    docs_url=f"{PROJECT_URL}#train-a-topic-model-contextualized-topic-model",
    license=DEFAULT_LICENSE,
):
    """CombinedTM or ZeroShotTM over a fixed vocabulary, with Hub save/load and prediction.

    ``vocab`` is the bag-of-words vocabulary in column order; ``embedding_dim`` the size of the
    ``encoder``'s sentence embeddings (a Hub id or a local folder; None for a saved model whose
    local encoder was not published: pass ``encoder=`` to ``from_pretrained`` to predict). The
    other arguments are the package's network settings.

    ``training_config`` and ``eval_results`` (the JSON side files of those names, set by
    ``train topics`` and read back by ``from_pretrained``) make ``save_pretrained`` write them
    and the full card; without them the card is minimal.
    """

    backend = "PyTorch, float32"  # said in the app's About tab

    def __init__(
        self,
        vocab: list[str],
        embedding_dim: int,
        n_topics: int = 50,
        model_type: str = "combined",
        encoder: str | None = DEFAULT_ENCODER,
        hidden_sizes: Sequence[int] = (100, 100),
        activation: str = "softplus",
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if model_type not in MODEL_TYPES:
            raise ValueError(f"model_type must be one of {MODEL_TYPES}, not {model_type!r}")
        if len(set(vocab)) != len(vocab) or not vocab:
            raise ValueError("vocab must be a non-empty list of distinct words")
        self.vocab = list(vocab)
        self._settings: dict[str, Any] = {
            "model_type": model_type,
            "n_topics": int(n_topics),
            "embedding_dim": int(embedding_dim),
            "encoder": encoder,
            "hidden_sizes": [int(size) for size in hidden_sizes],
            "activation": activation,
            "dropout": float(dropout),
        }
        self.network = DecoderNetwork(
            len(self.vocab),
            int(embedding_dim),
            model_type,
            int(n_topics),
            "prodLDA",
            tuple(self._settings["hidden_sizes"]),
            activation,
            float(dropout),
            learn_priors=True,
        )
        # DecoderNetwork puts its priors and beta on CUDA by itself when a GPU exists; keep
        # every tensor on one device (the trainer's Accelerator moves the whole network).
        self.network.to("cpu")
        self.eval()
        # config.json records the encoder's Hub id, never a local path (None when unknown).
        self._public_encoder = public_model_id(encoder)
        self.training_config: dict[str, Any] | None = None
        self.eval_results: dict[str, Any] | None = None

    @property
    def n_topics(self) -> int:
        return self._settings["n_topics"]

    @property
    def config(self) -> dict[str, Any]:
        """What ``config.json`` holds: sizes, network settings, the encoder id, the model type."""
        return {
            **self._settings,
            "encoder": self._public_encoder,
            "vocab_size": len(self.vocab),
            "decoder": "prodLDA",
            "inference": "posterior mean (deterministic)",
        }

    @property
    def encoder_max_tokens(self) -> int:
        """How many tokens of a text the sentence encoder reads (all-MiniLM-L6-v2: 256)."""
        limit = self.sentence_encoder.max_seq_length
        if limit is None:
            raise ValueError(f"the encoder {self._settings['encoder']} sets no maximum length")
        return int(limit)

    def encoder_token_count(self, text: str) -> int:
        """How many tokens ``text`` has for the sentence encoder, special tokens included."""
        return len(self.sentence_encoder.tokenizer(text)["input_ids"])

    def topics(self, k: int = 10) -> list[list[str]]:
        """The ``k`` most weighted words of each topic, most weighted first."""
        return top_words(self._beta(), self.vocab, k)

    def topic_word_logits(self) -> np.ndarray:
        """Each topic's word logits for a text of that topic alone, ``(n_topics, vocab size)``
        (``hub_utils.models.topic_words.word_logits``)."""
        norm = self.network.beta_batchnorm
        return word_logits(
            self._beta(),
            norm.running_mean.detach().cpu().float().numpy(),
            norm.running_var.detach().cpu().float().numpy(),
        )

    def _beta(self) -> np.ndarray:
        return self.network.beta.detach().cpu().float().numpy()

    def forward(self, bow: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        """Topic distributions: softmax of the posterior mean, so no sampling noise."""
        posterior_mean, _ = self.network.get_posterior(bow, embeddings)
        return torch.softmax(posterior_mean, dim=1)

    def topic_distribution(
        self, bow: sparse.spmatrix | np.ndarray, embeddings: np.ndarray, *, batch_size: int = 256
    ) -> np.ndarray:
        """Topic distributions from a prepared bag of words and embeddings (rows aligned)."""
        self.eval()
        device = self.network.beta.device
        bow = sparse.csr_matrix(bow, dtype=np.float32)
        parts = []
        with torch.no_grad():
            for start in range(0, bow.shape[0], batch_size):
                stop = start + batch_size
                x_bow = torch.as_tensor(bow[start:stop].toarray(), device=device)
                x_emb = torch.as_tensor(embeddings[start:stop], dtype=torch.float32, device=device)
                parts.append(self(x_bow, x_emb).cpu().numpy())
        return np.concatenate(parts) if parts else np.zeros((0, self.n_topics), np.float32)

    @property
    def sentence_encoder(self) -> SentenceTransformer:
        """The encoder named in the config, loaded on first use and then kept."""
        encoder = self.__dict__.get("_encoder")
        if encoder is None:
            if self._settings["encoder"] is None:
                raise ValueError(
                    "this topic model's encoder was a local folder and was not published: "
                    'load it with TopicModel.from_pretrained(..., encoder="<Hub id or folder>")'
                )
            encoder = load_encoder(self._settings["encoder"])
            # Kept out of the module tree: it is neither saved with nor moved with the network.
            self.__dict__["_encoder"] = encoder
        return encoder

    def predict(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Topic distribution of each raw text, shape ``(len(texts), n_topics)``.

        Words outside the vocabulary are ignored; a text with no known word still gets a
        distribution from its sentence embedding. Empty or blank texts raise ``ValueError``.
        """
        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, self.n_topics), np.float32)
        # A few short texts are too small a job to split: on a busy 2-core machine one text took
        # 16 ms on one thread and up to 500 ms on two, which stall waiting for each other.
        threads = 1 if len(texts) <= _ONE_THREAD_BATCH else torch.get_num_threads()
        with torch_threads(threads):
            embeddings = embed(self.sentence_encoder, texts, batch_size=batch_size)
            return self.topic_distribution(bag_of_words(texts, self.vocab), embeddings)

    def network_state(self) -> dict[str, torch.Tensor]:
        """The network's weights and buffers as plain CPU tensors, ready for safetensors."""
        return {
            name: tensor.detach().cpu().contiguous().clone()
            for name, tensor in self.network.state_dict().items()
            if name not in _ALIAS_KEYS
        }

    def load_network_state(self, state: dict[str, torch.Tensor]) -> None:
        """Load weights saved by ``network_state``; every tensor must match."""
        result = self.network.load_state_dict(
            {k: v for k, v in state.items() if k not in _ALIAS_KEYS}, strict=False
        )
        # Copying into ``beta`` in place also updates its alias, the only key allowed missing.
        missing = [key for key in result.missing_keys if key not in _ALIAS_KEYS]
        if missing or result.unexpected_keys:
            raise ValueError(
                f"weights do not fit this network: missing {missing}, "
                f"unexpected {result.unexpected_keys}"
            )

    def _save_pretrained(self, save_directory: Path) -> None:
        """The model files, the training side files when known, and the card (always written,
        so that it describes what was saved)."""
        save_directory = Path(save_directory)
        write_json(save_directory / CONFIG_FILE, self.config)
        write_json(save_directory / VOCAB_FILE, self.vocab)
        write_json(
            save_directory / TOPICS_FILE, self.topics(min(TOPIC_WORDS_SAVED, len(self.vocab)))
        )
        save_file(self.network_state(), str(save_directory / WEIGHTS_FILE), {"format": "pt"})
        if self.training_config is not None:
            write_json(save_directory / TRAINING_CONFIG_FILE, self.training_config)
        if self.eval_results is not None:
            write_json(save_directory / EVAL_RESULTS_FILE, self.eval_results)
        self.write_card(save_directory)

    def card_text(self, *, onnx: bool = False, load_from: str | None = None) -> str:
        """README.md for this model (``onnx``: the folder has the ONNX export)."""
        results = self.eval_results or {}
        return topic_card(
            config=self.config,
            topics=self.topics(min(TOPIC_WORDS_SAVED, len(self.vocab))),
            training=self.training_config,
            results=self.eval_results,
            onnx_max_abs_diff=results.get("onnx_max_abs_diff") if onnx else None,
            **({"load_from": load_from} if load_from else {}),
        )

    def write_card(self, folder: Path, *, load_from: str | None = None) -> None:
        """Write README.md into a saved model folder."""
        folder = Path(folder)
        text = self.card_text(onnx=(folder / TOPIC_ONNX_FILE).is_file(), load_from=load_from)
        (folder / CARD_FILE).write_text(text, encoding="utf-8")

    def generate_model_card(self, *args: Any, **kwargs: Any) -> ModelCard:
        """The mixin's card hook: the same card as ``save_pretrained`` writes."""
        return ModelCard(self.card_text())

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        **model_kwargs: Any,
    ) -> TopicModel:
        def fetch(filename: str) -> Path:
            if Path(model_id).is_dir():
                path = Path(model_id) / filename
                if not path.is_file():
                    raise NotAModelFolderError(
                        f"{model_id} is not a saved topic model: {filename} is missing"
                    )
                return path
            return Path(
                hf_hub_download(
                    model_id,
                    filename,
                    revision=revision,
                    cache_dir=cache_dir,
                    force_download=force_download,
                    local_files_only=local_files_only,
                    token=token,
                )
            )

        def side_file(filename: str) -> Any:
            """A training side file's content, or None: a model built in code has none."""
            try:
                return read_json(fetch(filename))
            except (NotAModelFolderError, EntryNotFoundError):
                return None

        fetch(CONFIG_FILE)  # the mixin read it if present; a missing one is an error here
        vocab = json.loads(fetch(VOCAB_FILE).read_text(encoding="utf-8"))
        model = cls(vocab=vocab, **model_kwargs)
        model.load_network_state(load_file(str(fetch(WEIGHTS_FILE))))
        model.training_config = side_file(TRAINING_CONFIG_FILE)
        model.eval_results = side_file(EVAL_RESULTS_FILE)
        model.eval()
        return model
