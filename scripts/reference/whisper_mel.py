"""Reference log-mel spectrograms for aivmm's Whisper front end (src/core/tasks/audio.ts), computed here
independently with numpy, following openai/whisper's audio.py (n_fft 400, hop 160, 80 mels, periodic Hann,
reflect-padded centred STFT, last frame dropped, log10 clamp at max − 8, (x + 4) / 4) and librosa's Slaney
mel filterbank (htk=False, norm='slaney'), re-derived from their formulas — no librosa or torch needed.

    python3 scripts/reference/whisper_mel.py > test/fixtures/whisper-mel-reference.json
"""
import json

import numpy as np

SR, N_FFT, HOP, N_MELS = 16000, 400, 160, 80


def hz_to_mel(f):
    f = np.asanyarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels)


def mel_to_hz(m):
    m = np.asanyarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * m
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), freqs)


def mel_filters():
    fftfreqs = np.linspace(0, SR / 2, 1 + N_FFT // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(SR / 2), N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((N_MELS, 1 + N_FFT // 2))
    for i in range(N_MELS):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2 : N_MELS + 2] - mel_f[:N_MELS])
    return weights * enorm[:, None]


def log_mel(audio):
    audio = np.asarray(audio, dtype=np.float64)
    n = 30 * SR
    audio = np.pad(audio, (0, max(0, n - len(audio))))[:n]
    padded = np.pad(audio, (N_FFT // 2, N_FFT // 2), mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann
    frames = 1 + (len(padded) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    spec = np.fft.rfft(padded[idx] * window, axis=1)
    power = np.abs(spec[:-1]) ** 2  # drop the last frame, as whisper does
    mel = mel_filters() @ power.T
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return (log_spec + 4.0) / 4.0


def signal(kind):
    t = np.arange(int(1.5 * SR)) / SR
    if kind == "tone440":
        return 0.5 * np.sin(2 * np.pi * 440 * t)
    if kind == "chirp":
        return 0.3 * np.sin(2 * np.pi * (200 * t + 1500 * t * t))
    raise ValueError(kind)


out = {}
for kind in ("tone440", "chirp"):
    m = log_mel(signal(kind))
    frames = [0, 1, 50, 100, 149, 150, 2999]
    out[kind] = {
        "shape": list(m.shape),
        "frames": {str(f): [round(float(x), 6) for x in m[:, f]] for f in frames},
        "mean": round(float(m.mean()), 6),
        "max": round(float(m.max()), 6),
    }
print(json.dumps(out))
