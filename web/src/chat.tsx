/** Chat: /v1/chat/completions with stream: true, tokens shown as they come, tokens/s measured. */
import { useEffect, useRef, useState } from 'react';
import { getJson, readSse, request, type PsPayload } from './api.js';

interface Msg {
  role: 'user' | 'assistant';
  content: string;
}
interface Chunk {
  choices?: { delta?: { content?: string }; finish_reason?: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
  error?: { message: string };
}

export function ChatPage() {
  const [models, setModels] = useState<{ id: string; task?: string }[]>();
  const [model, setModel] = useState('');
  const [messages, setMessages] = useState<Msg[]>([]);
  const [text, setText] = useState('');
  const [stats, setStats] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const abort = useRef<AbortController | null>(null);
  useEffect(() => {
    // The task pipelines (OpenAI routes): text-generation ones, and those whose task is only known once opened.
    getJson<PsPayload>('/v1/ps').then(
      (r) => {
        const gen = r.pipelines
          .filter((m) => m.task === undefined || m.task === 'text-generation')
          .map((m) => ({ id: m.name, ...(m.task ? { task: m.task } : {}) }));
        setModels(gen);
        if (gen[0]) setModel(gen[0].id);
      },
      (err: Error) => setError(err.message),
    );
    return () => abort.current?.abort();
  }, []);

  const send = async (): Promise<void> => {
    if (!text.trim() || !model) return;
    const history: Msg[] = [...messages, { role: 'user', content: text }];
    setMessages([...history, { role: 'assistant', content: '' }]);
    setText('');
    setBusy(true);
    setError(undefined);
    setStats(undefined);
    const ac = new AbortController();
    abort.current = ac;
    const t0 = performance.now();
    let first: number | undefined;
    let chunks = 0;
    let reply = '';
    try {
      const r = await request('/v1/chat/completions', {
        method: 'POST',
        signal: ac.signal,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: history, stream: true, max_tokens: 64, stream_options: { include_usage: true } }),
      });
      let usage: Chunk['usage'];
      await readSse(
        r,
        (_e, data) => {
          if (data === '[DONE]') return;
          const c = JSON.parse(data) as Chunk;
          if (c.error) throw new Error(c.error.message);
          if (c.usage) usage = c.usage;
          const d = c.choices?.[0]?.delta?.content;
          if (d) {
            first ??= performance.now();
            chunks++;
            reply += d;
            setMessages([...history, { role: 'assistant', content: reply }]);
          }
        },
        ac.signal,
      );
      const end = performance.now();
      const tokens = usage?.completion_tokens ?? chunks;
      const genS = first !== undefined ? (end - first) / 1000 : 0;
      setStats(
        `${tokens} tokens · ${genS > 0 && tokens > 1 ? ((tokens - 1) / genS).toFixed(1) : '–'} tokens/s · first token ${first !== undefined ? (first - t0).toFixed(0) : '–'} ms${usage ? ` · prompt ${usage.prompt_tokens} tokens` : ''}`,
      );
    } catch (err) {
      if (!ac.signal.aborted) setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="chat-h">
      <h2 id="chat-h">Chat</h2>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {models && models.length === 0 && <p className="empty">No text-generation model is served (e.g. `aivmm serve test/fixtures/tiny-llama/model.onnx`).</p>}
      {models && models.length > 0 && (
        <>
          <label>
            Model{' '}
            <select aria-label="chat model" value={model} onChange={(e) => setModel(e.target.value)}>
              {models.map((m) => (
                <option key={m.id}>{m.id}</option>
              ))}
            </select>
          </label>
          <div className="chatlog" aria-live="polite" data-testid="chat-log">
            {messages.map((m, i) => (
              <div key={i} className={`msg ${m.role}`}>
                <span className="muted small">{m.role}</span>
                <div>{m.content || (busy && i === messages.length - 1 ? '…' : '')}</div>
              </div>
            ))}
          </div>
          <form
            className="row"
            onSubmit={(e) => {
              e.preventDefault();
              void send();
            }}
          >
            <input aria-label="message" value={text} onChange={(e) => setText(e.target.value)} placeholder="Say something" disabled={busy} />
            <button type="submit" disabled={busy || !text.trim()}>
              Send
            </button>
            {busy && (
              <button type="button" onClick={() => abort.current?.abort()}>
                Stop
              </button>
            )}
          </form>
          {stats && (
            <p className="muted small" data-testid="chat-stats">
              {stats}
            </p>
          )}
        </>
      )}
    </section>
  );
}
