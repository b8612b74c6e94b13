/** The aivmm dashboard: one page per tab, the tab in the URL hash (#models, #playground, …). */
import { StrictMode, useEffect, useRef, useState, type KeyboardEvent } from 'react';
import { createRoot } from 'react-dom/client';
import { apiKey } from './api.js';
import { BenchPage } from './bench.js';
import { ChatPage } from './chat.js';
import { ClipPage } from './clip.js';
import { ComparePage } from './compare.js';
import { DevicesPage } from './devices.js';
import { ModelsPage } from './models.js';
import { PlaygroundPage } from './playground.js';
import { SpeechPage } from './speech.js';
import { useLive } from './store.js';
import { TrafficPage } from './traffic.js';
import { WebcamPage } from './webcam.js';
import './style.css';

const TABS = [
  ['models', 'Models'],
  ['playground', 'Playground'],
  ['devices', 'Devices'],
  ['traffic', 'Traffic'],
  ['bench', 'Bench'],
  ['chat', 'Chat'],
  ['webcam', 'Webcam'],
  ['clip', 'CLIP'],
  ['speech', 'Speech'],
  ['compare', 'Compare'],
] as const;
type Tab = (typeof TABS)[number][0];

const fromHash = (): Tab => {
  const h = location.hash.replace(/^#\/?/, '');
  return (TABS.find(([id]) => id === h)?.[0] ?? 'models') as Tab;
};

function KeyBox() {
  const [k, setK] = useState(apiKey.get());
  return (
    <form
      className="key"
      onSubmit={(e) => {
        e.preventDefault();
        apiKey.set(k.trim());
        location.reload();
      }}
    >
      <label>
        API key <input type="password" value={k} onChange={(e) => setK(e.target.value)} autoComplete="off" placeholder="(none)" />
      </label>
      <button type="submit">Use</button>
    </form>
  );
}

function App() {
  const [tab, setTab] = useState<Tab>(fromHash());
  const live = useLive();
  const refs = useRef<(HTMLButtonElement | null)[]>([]);
  useEffect(() => {
    const on = (): void => setTab(fromHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  const go = (t: Tab): void => {
    location.hash = t;
    setTab(t);
  };
  const onKey = (e: KeyboardEvent, i: number): void => {
    const n = e.key === 'ArrowRight' ? i + 1 : e.key === 'ArrowLeft' ? i - 1 : undefined;
    if (n === undefined) return;
    const j = (n + TABS.length) % TABS.length;
    go(TABS[j]![0]);
    refs.current[j]?.focus();
  };
  const unauthorized = !live.connected && /API key/i.test(live.error ?? '');
  return (
    <>
      <header className="top">
        <h1>aivmm</h1>
        <nav role="tablist" aria-label="dashboard pages">
          {TABS.map(([id, label], i) => (
            <button
              key={id}
              ref={(el) => void (refs.current[i] = el)}
              role="tab"
              id={`tab-${id}`}
              aria-selected={tab === id}
              aria-controls="page"
              tabIndex={tab === id ? 0 : -1}
              onClick={() => go(id)}
              onKeyDown={(e) => onKey(e, i)}
            >
              {label}
            </button>
          ))}
        </nav>
        <span className={`conn ${live.connected ? 'on' : 'off'}`} role="status" data-testid="connection">
          {live.connected ? '● live' : `○ ${live.error ?? 'connecting…'}`}
        </span>
        <KeyBox />
      </header>
      {unauthorized && <p className="error banner">The server requires an API key: enter it above.</p>}
      {!live.connected && live.error && !unauthorized && (
        <p className="error banner">The server does not answer the event stream ({live.error}); retrying every 2 s.</p>
      )}
      <main id="page" role="tabpanel" aria-labelledby={`tab-${tab}`}>
        {tab === 'models' && <ModelsPage live={live} />}
        {tab === 'playground' && <PlaygroundPage index={live.index} />}
        {tab === 'devices' && <DevicesPage live={live} />}
        {tab === 'traffic' && <TrafficPage live={live} />}
        {tab === 'bench' && <BenchPage live={live} />}
        {tab === 'chat' && <ChatPage />}
        {tab === 'webcam' && <WebcamPage revision={live.revision} />}
        {tab === 'clip' && <ClipPage revision={live.revision} />}
        {tab === 'speech' && <SpeechPage revision={live.revision} />}
        {tab === 'compare' && <ComparePage index={live.index} revision={live.revision} />}
      </main>
    </>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
