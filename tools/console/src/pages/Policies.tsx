import {
  ActionGroup,
  Alert,
  Button,
  Checkbox,
  Form,
  FormGroup,
  FormHelperText,
  FormSelect,
  FormSelectOption,
  HelperText,
  HelperTextItem,
  TextInput,
  Title,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useState } from 'react';
import { api, ifMatch, message, ok, problemsFor } from '../api';
import { PageBody, Toast, changes, type Notice, useConfirm, useLoad, when } from '../ui';
import type { EffectivePolicy, InheritedValues, PolicyRevision, PolicyView, SavedPolicy } from '../views';

type Section = keyof EffectivePolicy['settings'];
type Kind = PolicyView['kind'];
type FieldType = 'bool' | 'expiry' | 'int';
/** The form's layout: labels only. Values, defaults and limits come from the API. */
const FIELDS: ReadonlyArray<readonly [Section, string, ReadonlyArray<readonly [string, string, FieldType]>]> =
  [
    [
      'activeDirectory',
      'Active Directory',
      [
        ['checkUserStatus', 'Check User Status', 'bool'],
        ['cacheUserStatus', 'Cache User Status', 'bool'],
        ['cacheExpirySeconds', 'Cache Expiry', 'expiry'],
      ],
    ],
    [
      'tap',
      'Taps',
      [
        ['allowBleTaps', 'Allow BLE taps', 'bool'],
        ['allowUidTaps', 'Allow UID badge taps', 'bool'],
        ['requirePresence', 'Require presence', 'bool'],
      ],
    ],
    [
      'esign',
      'Electronic signatures',
      [
        ['secondSignerMustDiffer', 'Second signer must differ', 'bool'],
        ['ceremonyTimeoutSeconds', 'Ceremony timeout (seconds)', 'int'],
      ],
    ],
  ];

/** Every field of the form, for matching the API's problems to it. */
const FORM_FIELDS = [
  'policyId',
  'name',
  'group',
  'priority',
  'user',
  ...FIELDS.flatMap(([, , fields]) => fields.map(([f]) => f)),
];

type Value = boolean | number;
type Values = Record<string, Value>;

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}
function expiryLabel(s: number): string {
  return s < 60 || s % 60
    ? plural(s, 'second')
    : s < 3600
      ? plural(s / 60, 'minute')
      : plural(s / 3600, 'hour');
}

type Source = EffectivePolicy['explain'][string];
function sourceText(src: Source | undefined): string {
  if (!src) return 'unknown';
  if (src.kind !== 'baseline') return `${src.kind} policy ${src.name}`;
  const what = `${src.service} configuration${src.key ? ` ${src.key}` : ''}`;
  return src.reported === false ? `${what} (default: no ${src.service} has reported)` : what;
}

function appliesTo(p: PolicyView): string {
  return p.kind === 'group' ? (p.group ?? '') : p.kind === 'user' ? (p.user ?? '') : 'everyone';
}

export function Policies() {
  const { data, error } = useLoad(() => ok<{ items: PolicyView[] }>(api.GET('/v1/policies')));
  const [user, setUser] = useState('');
  const [effective, setEffective] = useState<EffectivePolicy & { groups: string[] }>();
  const [effError, setEffError] = useState<string>();
  const items = data?.items ?? [];
  return (
    <PageBody title="Policies">
      <Toast notice={error ? { variant: 'danger', text: error } : undefined} />
      <Toolbar>
        <ToolbarContent>
          {data && !items.some((p) => p.kind === 'default') ? (
            <ToolbarItem>
              <Button component="a" href="#/policies/new/default" id="create-default">
                Create the default policy
              </Button>
            </ToolbarItem>
          ) : null}
          <ToolbarItem>
            <Button component="a" variant="secondary" href="#/policies/new/group">
              New group policy
            </Button>
          </ToolbarItem>
          <ToolbarItem>
            <Button component="a" variant="secondary" href="#/policies/new/user">
              New user policy
            </Button>
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <Table id="policies" aria-label="Policies" variant="compact">
        <Thead>
          <Tr>
            <Th>Name</Th>
            <Th>Kind</Th>
            <Th>Applies to</Th>
            <Th>State</Th>
            <Th>Revision</Th>
            <Th>Updated</Th>
          </Tr>
        </Thead>
        <Tbody>
          {items.map((p) => (
            <Tr key={p.policyId}>
              <Td dataLabel="Name">
                <a href={`#/policies/${encodeURIComponent(p.policyId)}`}>{p.name}</a>
              </Td>
              <Td dataLabel="Kind">{p.kind}</Td>
              <Td dataLabel="Applies to">
                {p.kind === 'user' && p.user ? (
                  <a href={`#/users/${encodeURIComponent(p.user)}`}>{p.user}</a>
                ) : (
                  appliesTo(p)
                )}
              </Td>
              <Td dataLabel="State">{p.active ? 'active' : 'inactive'}</Td>
              <Td dataLabel="Revision">{p.policyRevision ?? '—'}</Td>
              <Td dataLabel="Updated">{`${p.updated.by}, ${when(p.updated.at)}`}</Td>
            </Tr>
          ))}
          {data && items.length === 0 ? (
            <Tr>
              <Td colSpan={6}>
                No policies yet: every terminal runs with the services&apos; configuration. Create the default
                policy to change it for everyone, then group or user policies for exceptions.
              </Td>
            </Tr>
          ) : null}
        </Tbody>
      </Table>
      <Form
        isHorizontal
        onSubmit={(ev) => {
          ev.preventDefault();
          setEffError(undefined);
          ok<EffectivePolicy & { groups: string[] }>(
            api.GET('/v1/policies/effective', { params: { query: { user } as never } }),
          ).then(setEffective, (e: unknown) => setEffError(message(e)));
        }}
      >
        <FormGroup label="Effective policy of a user" fieldId="eff-user">
          <TextInput id="eff-user" value={user} onChange={(_e, v) => setUser(v)} />
        </FormGroup>
        <ActionGroup>
          <Button type="submit" variant="secondary">
            Explain
          </Button>
        </ActionGroup>
      </Form>
      <div id="eff-out">
        {effError ? <Toast id="eff-error" notice={{ variant: 'danger', text: effError }} /> : null}
        {effective ? <EffectiveTable effective={effective} /> : null}
      </div>
    </PageBody>
  );
}

/** Each setting of an effective policy, its value and what set it (the API's explanation). */
export function EffectiveTable(props: { effective: EffectivePolicy; id?: string }) {
  const e = props.effective;
  return (
    <Table id={props.id} aria-label="Effective policy" variant="compact">
      <Thead>
        <Tr>
          <Th>Setting</Th>
          <Th>Value</Th>
          <Th>Set by</Th>
        </Tr>
      </Thead>
      <Tbody>
        {Object.entries(e.explain).map(([f, src]) => {
          const [s, k] = f.split('.') as [Section, string];
          return (
            <Tr key={f}>
              <Td>{f}</Td>
              <Td>{String((e.settings[s] as Values)[k])}</Td>
              <Td>{sourceText(src)}</Td>
            </Tr>
          );
        })}
      </Tbody>
    </Table>
  );
}

interface Loaded {
  policy: PolicyView | undefined;
  inherited: InheritedValues;
}

type Warnings = NonNullable<SavedPolicy['warnings']>;
interface SaveOutcome {
  notice: Notice;
  warnings: Warnings;
}
/** The outcome of saving a new policy, carried to the form that opens on its id. */
let carried: SaveOutcome | undefined;

export function PolicyForm(props: { policyId?: string; newKind?: Kind }) {
  const [outcome, setOutcome] = useState<SaveOutcome | undefined>(() => {
    const n = carried;
    carried = undefined;
    return n;
  });
  const { data, error, reload } = useLoad<Loaded>(async () => {
    const [policy, inherited] = await Promise.all([
      props.policyId
        ? ok<PolicyView>(
            api.GET('/v1/policies/{policyId}', { params: { path: { policyId: props.policyId } } }),
          )
        : Promise.resolve(undefined),
      ok<InheritedValues>(api.GET('/v1/policies/inherited')),
    ]);
    return { policy, inherited };
  });
  if (error) {
    return (
      <PageBody title="Policy">
        <Toast notice={{ variant: 'danger', text: error }} />
      </PageBody>
    );
  }
  if (!data) return null;
  return (
    <PolicyEditor
      key={data.policy?.revision ?? 'new'}
      {...data}
      newKind={props.newKind}
      notice={outcome?.notice}
      warnings={outcome?.warnings ?? []}
      saved={(n) => {
        if (data.policy) {
          setOutcome(n);
          reload();
        } else carried = n;
      }}
    />
  );
}

function PolicyEditor(
  props: Loaded & {
    newKind: Kind | undefined;
    notice: Notice | undefined;
    warnings: Warnings;
    saved: (n: SaveOutcome) => void;
  },
) {
  const kind: Kind = props.policy?.kind ?? props.newKind ?? 'group';
  const below = kind === 'default' ? props.inherited.baseline : props.inherited.inherited;
  const stored = (props.policy?.settings ?? {}) as Record<Section, Values | undefined>;
  const [policyId, setPolicyId] = useState(props.policy?.policyId ?? (kind === 'default' ? 'default' : ''));
  const [name, setName] = useState(props.policy?.name ?? (kind === 'default' ? 'Default group policy' : ''));
  const [group, setGroup] = useState(props.policy?.group ?? '');
  const [priority, setPriority] = useState(String(props.policy?.priority ?? 0));
  const [user, setUser] = useState(props.policy?.user ?? '');
  const [active, setActive] = useState(props.policy?.active ?? true);
  const [override, setOverride] = useState<Record<string, boolean>>(() => {
    const o: Record<string, boolean> = {};
    for (const [s, , fields] of FIELDS) for (const [f] of fields) o[f] = stored[s]?.[f] !== undefined;
    return o;
  });
  const [values, setValues] = useState<Values>(() => {
    const v: Values = {};
    for (const [s, , fields] of FIELDS) {
      for (const [f] of fields) v[f] = stored[s]?.[f] ?? (below.settings[s] as Values)[f];
    }
    return v;
  });
  const [fieldError, setFieldError] = useState<unknown>();
  const [notice, setNotice] = useState<Notice>();
  const [saving, setSaving] = useState(false);
  const [confirm, confirmDialog] = useConfirm();

  const inheritedOf = (s: Section, f: string) => (below.settings[s] as Values)[f];
  /** What applies: the value typed when overridden, else the inherited one. */
  const applied = (s: Section, f: string) => (override[f] ? values[f] : inheritedOf(s, f));
  const hidden = (f: string) =>
    f === 'cacheExpirySeconds' && applied('activeDirectory', 'cacheUserStatus') === false;
  const errorFor = (f: string) => problemsFor(fieldError, f);

  const save = async () => {
    setFieldError(undefined);
    setNotice(undefined);
    setSaving(true);
    const settings: Record<string, Values> = {};
    for (const [s, , fields] of FIELDS) {
      for (const [f] of fields) if (override[f] && !hidden(f)) (settings[s] ??= {})[f] = values[f];
    }
    const common = {
      name,
      active,
      settings,
      ...(kind === 'group' ? { group, priority: Number(priority) } : {}),
      ...(kind === 'user' ? { user } : {}),
    };
    try {
      const r = props.policy
        ? await ok<SavedPolicy>(
            api.PUT('/v1/policies/{policyId}', {
              params: { path: { policyId: props.policy.policyId } },
              headers: ifMatch(props.policy.revision),
              body: common,
            }),
          )
        : await ok<SavedPolicy>(api.POST('/v1/policies', { body: { policyId, kind, ...common } }));
      props.saved({
        notice: { variant: 'success', text: `Saved ${r.name} (revision ${r.policyRevision ?? '?'})` },
        warnings: r.warnings ?? [],
      });
      if (!props.policy) location.hash = `#/policies/${encodeURIComponent(r.policyId)}`;
    } catch (e) {
      setFieldError(e);
    }
  };

  const title = props.policy ? `Policy: ${props.policy.name}` : `New ${kind} policy`;
  // The last save's notice goes away when the next save starts (so it is never mistaken for the new one).
  const shown = notice ?? (saving ? undefined : props.notice);
  return (
    <PageBody title={title}>
      <Toast notice={shown} />
      {!saving && !notice && props.warnings.length > 0 ? (
        <Alert isInline variant="warning" title="Saved, but check this" id="save-warnings">
          <ul>
            {props.warnings.map((w) => (
              <li key={w.path + w.message}>{`${w.path}: ${w.message}`}</li>
            ))}
          </ul>
        </Alert>
      ) : null}
      {confirmDialog}
      {/* A refusal that names no field of the form (e.g. a conflict) reads above it. */}
      {fieldError !== undefined && !FORM_FIELDS.some((f) => problemsFor(fieldError, f)) ? (
        <Toast id="form-error" notice={{ variant: 'danger', text: message(fieldError) }} />
      ) : null}
      <Form
        id="policy-form"
        onSubmit={(ev) => {
          ev.preventDefault();
          void save();
        }}
      >
        {props.policy ? null : (
          <TextField
            id="policyId"
            label="Id"
            value={policyId}
            onChange={setPolicyId}
            error={errorFor('policyId')}
            readOnly={kind === 'default'}
          />
        )}
        <TextField id="name" label="Name" value={name} onChange={setName} error={errorFor('name')} />
        {kind === 'group' ? (
          <>
            <TextField
              id="group"
              label="AD group (CN or DN)"
              value={group}
              onChange={setGroup}
              error={errorFor('group')}
            />
            <TextField
              id="priority"
              label="Priority"
              value={priority}
              onChange={setPriority}
              error={errorFor('priority')}
            />
          </>
        ) : null}
        {kind === 'user' ? (
          <TextField
            id="user"
            label="User (sAMAccountName)"
            value={user}
            onChange={setUser}
            error={errorFor('user')}
          />
        ) : null}
        <Checkbox id="active" label="Active" isChecked={active} onChange={(_e, v) => setActive(v)} />
        {FIELDS.map(([s, legend, fields]) => (
          <fieldset key={s} id={`section-${s}`} className="tg-fieldset">
            <legend>{legend}</legend>
            {fields.map(([f, label, type]) =>
              hidden(f) ? (
                // Hidden as the guide hides it; an override it had is not kept, and the form says so.
                override[f] ? (
                  <p key={f} id={`dropped-${f}`}>
                    {`${label} (${type === 'expiry' ? expiryLabel(values[f] as number) : String(values[f])}) is removed from this policy when it is saved: it has no effect while Cache User Status is off.`}
                  </p>
                ) : null
              ) : (
                <div key={f} id={`row-${f}`} className="tg-row">
                  <Checkbox
                    id={`ovr-${f}`}
                    label="Override"
                    aria-label={`Override ${label}`}
                    isChecked={override[f]}
                    onChange={(_e, v) => setOverride({ ...override, [f]: v })}
                  />
                  <FormGroup label={type === 'bool' ? undefined : label} fieldId={f}>
                    <FieldInput
                      id={f}
                      label={label}
                      type={type}
                      value={applied(s, f)}
                      disabled={!override[f]}
                      choices={props.inherited.cacheExpiryChoices}
                      onChange={(v) => setValues({ ...values, [f]: v })}
                    />
                    <FormHelperText>
                      <HelperText>
                        <HelperTextItem variant={errorFor(f) ? 'error' : 'default'} id={`help-${f}`}>
                          {errorFor(f) ??
                            `inherits ${String(inheritedOf(s, f))} from ${sourceText(below.explain[`${s}.${f}`])}`}
                        </HelperTextItem>
                      </HelperText>
                    </FormHelperText>
                  </FormGroup>
                </div>
              ),
            )}
          </fieldset>
        ))}
        <ActionGroup>
          <Button id="save" type="submit" variant="primary">
            Save
          </Button>
          {props.policy ? (
            <Button
              id="delete-policy"
              variant="danger"
              onClick={() =>
                confirm({
                  title: `Delete ${props.policy?.name ?? ''}?`,
                  body: 'Terminals fall back to the policy below it at once.',
                  action: 'Delete',
                  run: async () => {
                    try {
                      const p = props.policy as PolicyView;
                      await ok(
                        api.DELETE('/v1/policies/{policyId}', {
                          params: { path: { policyId: p.policyId } },
                          headers: ifMatch(p.revision),
                        }),
                      );
                      location.hash = '#/policies';
                    } catch (e) {
                      setNotice({ variant: 'danger', text: message(e) });
                    }
                  },
                })
              }
            >
              Delete
            </Button>
          ) : null}
          <Button component="a" variant="link" href="#/policies">
            Back
          </Button>
        </ActionGroup>
      </Form>
      {props.policy ? <PolicyHistory policyId={props.policy.policyId} /> : null}
    </PageBody>
  );
}

function TextField(props: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  error: string | undefined;
  readOnly?: boolean;
}) {
  return (
    <FormGroup label={props.label} fieldId={props.id}>
      <TextInput
        id={props.id}
        value={props.value}
        readOnlyVariant={props.readOnly ? 'default' : undefined}
        validated={props.error ? 'error' : 'default'}
        onChange={(_e, v) => props.onChange(v)}
      />
      {props.error ? (
        <FormHelperText>
          <HelperText>
            <HelperTextItem variant="error">
              <span id={`err-${props.id}`}>{props.error}</span>
            </HelperTextItem>
          </HelperText>
        </FormHelperText>
      ) : null}
    </FormGroup>
  );
}

function FieldInput(props: {
  id: string;
  label: string;
  type: FieldType;
  value: Value;
  disabled: boolean;
  choices: readonly number[];
  onChange: (v: Value) => void;
}) {
  if (props.type === 'bool') {
    return (
      <Checkbox
        id={props.id}
        label={props.label}
        isChecked={props.value === true}
        isDisabled={props.disabled}
        onChange={(_e, v) => props.onChange(v)}
      />
    );
  }
  if (props.type === 'expiry') {
    const v = props.value as number;
    // A configured expiry need not be one of the policy choices; show it, as it is what applies.
    const choices = props.choices.includes(v) ? props.choices : [v, ...props.choices];
    return (
      <FormSelect
        id={props.id}
        value={String(v)}
        isDisabled={props.disabled}
        onChange={(_e, x) => props.onChange(Number(x))}
        aria-describedby={`help-${props.id}`}
      >
        {choices.map((c) => (
          <FormSelectOption key={c} value={String(c)} label={expiryLabel(c)} />
        ))}
      </FormSelect>
    );
  }
  return (
    <TextInput
      id={props.id}
      type="number"
      value={String(props.value)}
      isDisabled={props.disabled}
      onChange={(_e, x) => props.onChange(Number(x))}
      aria-describedby={`help-${props.id}`}
    />
  );
}

/**
 * This policy's own revisions, numbered from its creation by the API (the KV revision counts writes to
 * every policy), each with what it changed, and the difference between any two of them.
 */
function PolicyHistory(props: { policyId: string }) {
  const { data, error } = useLoad(() =>
    ok<{ items: PolicyRevision[] }>(
      api.GET('/v1/policies/{policyId}/revisions', { params: { path: { policyId: props.policyId } } }),
    ),
  );
  const items = data?.items ?? [];
  const [from, setFrom] = useState<number>();
  const [to, setTo] = useState<number>();
  const newest = items[0]?.number;
  const toN = to ?? newest;
  const fromN = from ?? (newest !== undefined && newest > 1 ? newest - 1 : newest);
  const at = (n: number | undefined) => items.find((r) => r.number === n);
  const previous = (r: PolicyRevision) => at(r.number - 1)?.policy;
  const diff = changes(at(fromN)?.policy, at(toN)?.policy);
  const pick = (id: string, label: string, value: number | undefined, set: (n: number) => void) => (
    <FormGroup label={label} fieldId={id}>
      <FormSelect id={id} value={String(value ?? '')} onChange={(_e, x) => set(Number(x))}>
        {items.map((r) => (
          <FormSelectOption
            key={r.number}
            value={String(r.number)}
            label={`${r.number} · ${r.action} · ${when(r.at)}`}
          />
        ))}
      </FormSelect>
    </FormGroup>
  );
  return (
    <section aria-labelledby="history-title">
      <Title headingLevel="h3" id="history-title">
        Revisions of this policy
      </Title>
      <Toast id="history-error" notice={error ? { variant: 'danger', text: error } : undefined} />
      <Table id="policy-history" aria-label="Revisions of this policy" variant="compact">
        <Thead>
          <Tr>
            <Th modifier="wrap">Revision</Th>
            <Th>Time</Th>
            <Th>Administrator</Th>
            <Th>Action</Th>
            <Th>What changed</Th>
          </Tr>
        </Thead>
        <Tbody>
          {items.map((r) => (
            <Tr key={r.number}>
              <Td dataLabel="Revision">{r.number}</Td>
              <Td dataLabel="Time">{when(r.at)}</Td>
              <Td dataLabel="Administrator">{r.actor}</Td>
              <Td dataLabel="Action">{r.action}</Td>
              <Td dataLabel="What changed">
                {(r.action === 'policy.delete' ? ['deleted'] : changes(previous(r), r.policy)).map((line) => (
                  <div key={line}>{line}</div>
                ))}
              </Td>
            </Tr>
          ))}
        </Tbody>
      </Table>
      {items.length > 1 ? (
        <Form id="revision-compare" isHorizontal>
          <Title headingLevel="h4">Compare two revisions</Title>
          {pick('diff-from', 'From revision', fromN, setFrom)}
          {pick('diff-to', 'To revision', toN, setTo)}
          <div id="revision-diff" aria-live="polite">
            {diff.length === 0 ? (
              <p>{`Revisions ${fromN ?? ''} and ${toN ?? ''} do not differ.`}</p>
            ) : (
              <ul>
                {diff.map((line) => (
                  <li key={line}>{line}</li>
                ))}
              </ul>
            )}
          </div>
        </Form>
      ) : null}
    </section>
  );
}
