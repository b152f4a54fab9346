// The template reader must catch what it is used to catch; these feed it broken templates.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  definedNames,
  includedNames,
  missingValues,
  scanActions,
  valuesReads,
  type ValuesContext,
} from './helm-template';

const ctx: ValuesContext = {
  values: {
    a: { b: 1, list: [] },
    alpha: { enabled: true, port: 1 },
    beta: { enabled: true, port: 2 },
    egress: { x: { ports: [] }, y: { ports: [] } },
  },
  componentKeys: ['alpha', 'beta'],
};
const missing = (source: string): string[] =>
  missingValues(valuesReads(scanActions(source).actions, ctx), ctx.values);

describe('scanActions', () => {
  it('reads actions with their lines and drops trim markers', () => {
    const { actions, problems } = scanActions(
      'a: {{ .Values.a.b }}\nb: {{- include "x" . -}}\n{{/* note */}}',
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(
      actions.map((a) => [a.text, a.line, a.comment]),
      [
        ['.Values.a.b', 1, false],
        ['include "x" .', 2, false],
        ['/* note */', 3, true],
      ],
    );
  });

  it('reports a "{{" never closed, one opened twice and a stray "}}"', () => {
    assert.match(scanActions('x: {{ .Values.a').problems.join(), /line 1: "\{\{" is never closed/);
    assert.match(scanActions('x: {{ .Values.a {{ .b }}').problems.join(), /opened again/);
    assert.match(scanActions('x: 1\ny: .Values.a }}').problems.join(), /line 2: "\}\}" without "\{\{"/);
  });

  it('ignores braces inside strings and comments', () => {
    assert.deepEqual(scanActions('{{ printf "}}{{" }} {{/* {{ */}}').problems, []);
  });
});

describe('named templates', () => {
  it('lists defines and includes', () => {
    const { actions } = scanActions('{{ define "a.b" }}{{ end }}{{ include "a.b" . }}{{ template "c" . }}');
    assert.deepEqual(definedNames(actions), ['a.b']);
    assert.deepEqual(
      includedNames(actions).map((i) => i.name),
      ['a.b', 'c'],
    );
  });
});

describe('valuesReads', () => {
  it('accepts paths that exist, however they are reached', () => {
    const source = [
      '{{ .Values.a.b }} {{ $.Values.a.list }}',
      '{{ with .Values.a }}{{ .b }}{{ end }}',
      '{{ $x := .Values.a }}{{ $x.b }}',
      '{{ range $n, $key := . }}{{ $c := index $.Values $key }}{{ $c.port }}{{ end }}',
      '{{ define "t" }}{{ .c.enabled }}{{ .root.Values.a.b }}{{ $e := index .root.Values.egress .dep }}{{ $e.ports }}{{ end }}',
      '{{ .Release.Name }} {{ .Chart.Name }}',
    ].join('\n');
    assert.deepEqual(missing(source), []);
  });

  it('reports a missing path under .Values, with, a variable, a component and index', () => {
    assert.match(missing('{{ .Values.a.nope }}').join(), /line 1: .* a\.nope/);
    assert.match(missing('{{ with .Values.a }}\n{{ .nope }}{{ end }}').join(), /line 2: .* a\.nope/);
    assert.match(missing('{{ $x := .Values.a }}{{ $x.nope }}').join(), /a\.nope/);
    assert.match(missing('{{ define "t" }}{{ .c.nope }}{{ end }}').join(), /alpha\.nope.*beta\.nope/s);
    assert.match(
      missing('{{ define "t" }}{{ $e := index .root.Values.egress .d }}{{ $e.to }}{{ end }}').join(),
      /egress\.x\.to/,
    );
    assert.match(missing('{{ .Valuez.a }}').join(), /<root>\.Valuez/);
  });

  it('does not follow range elements or strings', () => {
    assert.deepEqual(
      missing('{{ range .Values.a.list }}{{ .anything }}{{ end }}{{ printf ".Values.nope" }}'),
      [],
    );
  });
});
