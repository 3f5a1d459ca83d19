"""Streaming silero voice-activity detection through onnxruntime.

The ONNX file is the one faster-whisper ships (``faster_whisper/assets/silero_vad_v6.onnx``);
it is located on disk without importing faster-whisper and never downloaded. The
``silero-vad`` package is avoided on purpose: it pulls in torch (gigabytes) for a 2 MB model.

The model judges 32 ms frames of 16 kHz audio (512 samples, plus the previous frame's last 64
samples as context) and carries an LSTM state between frames. One
:class:`onnxruntime.InferenceSession` is shared by the whole process (``run`` is thread-safe);
each audio stream owns its state in a :class:`SileroStream`. Several frames go through one
``run`` call: the exported graph walks its first axis as time, so a batch of frames gives
exactly the probabilities of feeding them one by one, at a fraction of the call overhead
(about 0.15 ms of CPU per frame on one core).

Other sample rates are converted for the detector with :class:`To16k` (soxr, streaming).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from jobrunner.errors import ConfigError

VAD_RATE: Final = 16_000
"""The only sample rate the model accepts."""
FRAME_SAMPLES: Final = 512
"""Samples per judged frame at :data:`VAD_RATE` (32 ms)."""
CONTEXT_SAMPLES: Final = 64
"""Tail of the previous frame the v5/v6 models expect in front of each frame."""
_STATE_SHAPE: Final = (1, 1, 128)

INSTALL_HINT: Final = "pip install 'jobrunner[asr]'"

Float32Array = npt.NDArray[np.float32]


def model_path() -> Path:
    """The silero ONNX file inside the installed faster-whisper package.

    Raises :class:`ConfigError` when faster-whisper (the ``asr`` extra) is not installed.
    """
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the silero VAD needs faster-whisper: {INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "assets" / "silero_vad_v6.onnx"
        if path.is_file():
            return path
    raise ConfigError(
        "faster-whisper is installed but has no assets/silero_vad_v6.onnx "
        f"(faster-whisper >= 1.1 ships it): {INSTALL_HINT}"
    )


class SileroModel:
    """One loaded VAD network; hand out a :meth:`stream` per audio stream."""

    def __init__(self, path: Path | None = None) -> None:
        try:
            import onnxruntime
        except ImportError as exc:
            raise ConfigError(f"the silero VAD needs onnxruntime: {INSTALL_HINT}") from exc
        options = onnxruntime.SessionOptions()
        # Frames are tiny: threads would cost more than they save, and the server runs many
        # streams side by side on few cores.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 4
        self._session: Any = onnxruntime.InferenceSession(
            str(path or model_path()),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )

    def stream(self) -> SileroStream:
        return SileroStream(self)

    def run(
        self, frames: Float32Array, h: Float32Array, c: Float32Array
    ) -> tuple[Float32Array, Float32Array, Float32Array]:
        """Speech probability per row of ``frames`` (context + frame) and the next state."""
        probs, h_next, c_next = self._session.run(None, {"input": frames, "h": h, "c": c})
        return (
            np.asarray(probs, dtype=np.float32).reshape(-1),
            np.asarray(h_next, dtype=np.float32),
            np.asarray(c_next, dtype=np.float32),
        )


_shared: SileroModel | None = None
_shared_lock = threading.Lock()


def shared_model() -> SileroModel:
    """The process-wide model, loaded on first use (thread-safe)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SileroModel()
        return _shared


class SileroStream:
    """Per-stream VAD state: LSTM state, context samples and an incomplete trailing frame.

    Feed 16 kHz float32 mono in pieces of any size; get one probability per completed frame.
    The result does not depend on how the audio was cut into pieces.
    """

    def __init__(self, model: SileroModel) -> None:
        self._model = model
        self._h: Float32Array = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._c: Float32Array = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context: Float32Array = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
        self._pending: Float32Array = np.zeros(0, dtype=np.float32)
        self.frames = 0
        """Frames judged so far; frame ``k`` covers samples ``[k*512, (k+1)*512)``."""

    def probabilities(self, samples: npt.ArrayLike) -> Float32Array:
        """Speech probability (0..1) of every frame completed by ``samples`` (16 kHz)."""
        audio = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32).ravel()])
        count = audio.size // FRAME_SAMPLES
        self._pending = audio[count * FRAME_SAMPLES :].copy()
        if count == 0:
            return np.zeros(0, dtype=np.float32)
        frames = audio[: count * FRAME_SAMPLES].reshape(count, FRAME_SAMPLES)
        context = np.empty((count, CONTEXT_SAMPLES), dtype=np.float32)
        context[0] = self._context
        context[1:] = frames[:-1, -CONTEXT_SAMPLES:]
        batch = np.ascontiguousarray(np.concatenate([context, frames], axis=1))
        probs, self._h, self._c = self._model.run(batch, self._h, self._c)
        self._context = frames[-1, -CONTEXT_SAMPLES:].copy()
        self.frames += count
        return probs


class To16k:
    """Streaming conversion of float32 mono at ``rate`` to 16 kHz (pass-through at 16 kHz).

    A real resampler (soxr) keeps speech intact for both the VAD and the recognizer; its
    small delay is flushed by :meth:`flush` at the end of the audio.
    """

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._stream: Any = None
        if rate != VAD_RATE:
            import soxr

            self._stream = soxr.ResampleStream(rate, VAD_RATE, 1, dtype="float32")

    def process(self, samples: npt.ArrayLike) -> Float32Array:
        audio = np.asarray(samples, dtype=np.float32).ravel()
        if self._stream is None:
            return audio.copy()  # callers may reuse their buffer; we keep this one
        return np.asarray(self._stream.resample_chunk(audio, last=False), dtype=np.float32)

    def flush(self) -> Float32Array:
        if self._stream is None:
            return np.zeros(0, dtype=np.float32)
        empty = np.zeros(0, dtype=np.float32)
        return np.asarray(self._stream.resample_chunk(empty, last=True), dtype=np.float32)
