"""Errors the pipeline raises on bad input or configuration.

Each has a stable ``code`` (for the JSON API) and a Korean ``message`` (for people).
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base class. ``code`` is stable; ``message`` is warm, plain Korean."""

    code = "pipeline_error"
    message = "처리 중에 문제가 생겼어요. 잠시 후에 다시 시도해 주세요."

    def __init__(self, message: str | None = None, *, detail: str = "") -> None:
        if message is not None:
            self.message = message
        self.detail = detail  # English, for logs; never shown to clients
        super().__init__(f"{self.code}: {detail or self.message}")


class AudioError(PipelineError):
    """The recording can't be used."""

    code = "audio_invalid"


class EmptyAudioError(AudioError):
    """The upload has no audio in it (zero bytes or zero samples)."""

    code = "audio_empty"
    message = "녹음된 소리가 없어요. 다시 한 번 말씀해 주시겠어요?"


class UndecodableAudioError(AudioError):
    """Neither libsndfile nor ffmpeg can read the upload."""

    code = "audio_undecodable"
    message = "녹음 파일을 읽을 수 없어요. 다시 녹음해 주시겠어요?"


class SilentAudioError(AudioError):
    """The recording is too quiet to hold speech."""

    code = "audio_silent"
    message = "목소리가 들리지 않았어요. 마이크를 확인하고 조금 더 크게 말씀해 주시겠어요?"


class AudioTooShortError(AudioError):
    """The recording is shorter than ``MAUM_MIN_AUDIO_S``."""

    code = "audio_too_short"
    message = "녹음이 너무 짧아요. 조금 더 길게 말씀해 주시겠어요?"


class AudioTooLongError(AudioError):
    """The recording is longer than ``MAUM_MAX_AUDIO_S``; the message names the limit."""

    code = "audio_too_long"

    def __init__(self, max_s: float, *, detail: str = "") -> None:
        super().__init__(f"녹음이 너무 길어요. {max_s:g}초 안으로 나누어 말씀해 주시겠어요?", detail=detail)


class AudioTooLargeError(AudioError):
    """The upload is larger than the pipeline accepts (answered with HTTP 413)."""

    code = "audio_too_large"
    message = "녹음 파일이 너무 커요. 조금 짧게 나누어 말씀해 주시겠어요?"


class TextError(PipelineError):
    """Typed text the pipeline cannot take."""

    code = "text_invalid"


class EmptyTextError(TextError):
    """Typed text with nothing but whitespace."""

    code = "text_empty"
    message = "내용이 비어 있어요. 하고 싶은 말을 적어 주시겠어요?"


class TextTooLongError(TextError):
    """Typed text longer than ``MAUM_MAX_TEXT_CHARS``; the message names the limit."""

    code = "text_too_long"

    def __init__(self, max_chars: int) -> None:
        super().__init__(f"글이 너무 길어요. {max_chars}자 안으로 나누어 적어 주시겠어요?")


class BackendError(PipelineError):
    """A backend could not be built or failed while running."""

    code = "backend_error"


class UnknownBackendError(BackendError, ValueError):
    """A backend name no registry table lists (the detail lists the valid ones)."""

    code = "backend_unknown"


class MissingDependencyError(BackendError, ImportError):
    """A chosen backend needs a package that is not installed (the detail names the extra)."""

    code = "backend_missing_dependency"


class ModelFilesError(BackendError):
    """Model files are missing or do not match their checksum."""

    code = "model_files_invalid"
