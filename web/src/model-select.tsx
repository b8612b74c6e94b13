/** The "Model" picker of the playground pages: the served pipeline models of one kind. */
export function ModelSelect({ label, models, value, onChange }: { label: string; models: readonly string[] | undefined; value: string; onChange: (name: string) => void }) {
  return (
    <label>
      Model{' '}
      <select aria-label={label} value={value} onChange={(e) => onChange(e.target.value)}>
        {(models ?? []).map((n) => (
          <option key={n}>{n}</option>
        ))}
      </select>
    </label>
  );
}
