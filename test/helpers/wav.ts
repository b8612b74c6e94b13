/** Writes WAV files for the audio tests: PCM 16-bit or float 32-bit, any channel count. */
export function wav(channels: Float32Array[], rate: number, format: 'pcm16' | 'float32' = 'pcm16'): Uint8Array {
  const bytes = format === 'pcm16' ? 2 : 4;
  const frames = channels[0]!.length;
  const dataLen = frames * channels.length * bytes;
  const b = Buffer.alloc(44 + dataLen);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(36 + dataLen, 4);
  b.write('WAVEfmt ', 8, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(format === 'pcm16' ? 1 : 3, 20);
  b.writeUInt16LE(channels.length, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * channels.length * bytes, 28);
  b.writeUInt16LE(channels.length * bytes, 32);
  b.writeUInt16LE(bytes * 8, 34);
  b.write('data', 36, 'latin1');
  b.writeUInt32LE(dataLen, 40);
  for (let f = 0; f < frames; f++) {
    channels.forEach((c, k) => {
      const o = 44 + (f * channels.length + k) * bytes;
      if (format === 'pcm16') b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(c[f]! * 32767))), o);
      else b.writeFloatLE(c[f]!, o);
    });
  }
  return new Uint8Array(b);
}
