// Tapgate administrator console: no framework, no build step. Every value from the server is put into
// the page as text (never as HTML), and the CSP allows scripts from this origin only.
'use strict';

// No default values here: the forms show what the server says is in force (GET /v1/policies/inherited).
const FIELDS = [
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
    'Tap',
    [
      ['allowBleTaps', 'BLE tap allowed', 'bool'],
      ['allowUidTaps', 'Plain NFC UIDs allowed', 'bool'],
      ['requirePresence', 'Presence required', 'bool'],
    ],
  ],
  [
    'esign',
    'E-signature',
    [
      ['secondSignerMustDiffer', 'Second signer must differ', 'bool'],
      ['ceremonyTimeoutSeconds', 'Ceremony timeout (seconds)', 'int'],
    ],
  ],
];

let me = null;
let csrf = '';
const $ = (sel) => document.querySelector(sel);
const main = () => $('#main');

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat())
    if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

function toast(msg) {
  const t = $('#toast');
  t.textContent = msg;
  t.className = 'show';
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.className = ''), 3000);
}

function expiryLabel(s) {
  return s < 60 || s % 60 ? `${s} seconds` : s < 3600 ? `${s / 60} minutes` : `${s / 3600} hours`;
}

async function api(method, path, body, headers = {}) {
  const h = { ...headers };
  if (body !== undefined) h['content-type'] = 'application/json';
  if (method !== 'GET') h['x-csrf-token'] = csrf;
  const res = await fetch(path, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await res.text();
  let data;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = text;
  }
  if (res.status === 401 && path !== '/v1/auth/login') {
    me = null;
    showLogin();
    throw new Error('not logged in');
  }
  if (!res.ok) {
    const e = new Error(data?.error?.message ?? `HTTP ${res.status}`);
    e.status = res.status;
    e.field = data?.error?.field;
    throw e;
  }
  return { data, res };
}

function setPage(title, ...content) {
  const m = main();
  m.replaceChildren(el('h2', { text: title }), ...content);
  for (const a of document.querySelectorAll('#nav a'))
    a.classList.toggle('current', location.hash.startsWith(a.getAttribute('href')));
  m.focus();
}

// ----- login -------------------------------------------------------------------------------------
function showLogin(message) {
  $('#nav').hidden = true;
  $('#who').replaceChildren();
  const err = el('div', { class: 'err', id: 'login-error', role: 'alert' }, message ?? '');
  const form = el(
    'form',
    {
      class: 'login',
      id: 'login-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        err.textContent = '';
        try {
          const { data } = await api('POST', '/v1/auth/login', {
            username: $('#username').value,
            password: $('#password').value,
          });
          csrf = data.csrfToken;
          me = data;
          start();
        } catch (e) {
          err.textContent = e.message;
          $('#password').value = '';
          $('#password').focus();
        }
      },
    },
    el('h2', { text: 'Administrator login' }),
    el(
      'div',
      { class: 'row' },
      el('label', { for: 'username', text: 'User name' }),
      el('input', { id: 'username', type: 'text', autocomplete: 'username', required: true }),
    ),
    el(
      'div',
      { class: 'row' },
      el('label', { for: 'password', text: 'Password' }),
      el('input', { id: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    ),
    err,
    el('button', { class: 'primary', type: 'submit', id: 'login-submit', text: 'Log in' }),
  );
  main().replaceChildren(form);
  $('#username').focus();
}

async function logout() {
  await api('POST', '/v1/auth/logout').catch(() => undefined);
  me = null;
  csrf = '';
  showLogin('Logged out.');
}

function start() {
  $('#nav').hidden = false;
  $('#who').replaceChildren(
    el('span', { id: 'whoami', text: `${me.user} (${me.role})` }),
    el('button', { onclick: logout, text: 'Log out' }),
  );
  if (!location.hash || location.hash === '#/') location.hash = '#/policies';
  else route();
}

// ----- policies ----------------------------------------------------------------------------------
async function policiesPage() {
  const { data } = await api('GET', '/v1/policies');
  const items = data.items;
  const rows = items.map((p) =>
    el(
      'tr',
      {},
      el('td', {}, el('a', { href: `#/policies/${encodeURIComponent(p.policyId)}`, text: p.name })),
      el('td', { text: p.kind }),
      el('td', { text: p.kind === 'group' ? p.group : p.kind === 'user' ? p.user : 'everyone' }),
      el('td', { text: p.active ? 'active' : 'inactive' }),
      el('td', { text: String(p.revision) }),
      el('td', { text: `${p.updated.by}, ${new Date(p.updated.at).toLocaleString()}` }),
    ),
  );
  const hasDefault = items.some((p) => p.kind === 'default');
  const effUser = el('input', {
    id: 'eff-user',
    type: 'text',
    'aria-label': 'User for the effective policy',
  });
  const effOut = el('div', { id: 'eff-out' });
  setPage(
    'Policies',
    el(
      'div',
      { class: 'toolbar' },
      hasDefault
        ? null
        : el('a', {
            href: '#/policies/new/default',
            id: 'create-default',
            text: 'Create the default policy',
          }),
      el('a', { href: '#/policies/new/group', text: 'New group policy' }),
      el('a', { href: '#/policies/new/user', text: 'New user policy' }),
    ),
    el(
      'table',
      { id: 'policies' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ...['Name', 'Kind', 'Applies to', 'State', 'Revision', 'Updated'].map((h) => el('th', { text: h })),
        ),
      ),
      el('tbody', {}, rows),
    ),
    el('h3', { text: 'Effective policy of a user' }),
    el(
      'form',
      {
        class: 'toolbar',
        onsubmit: async (ev) => {
          ev.preventDefault();
          try {
            const { data: e } = await api(
              'GET',
              `/v1/policies/effective?user=${encodeURIComponent(effUser.value)}`,
            );
            effOut.replaceChildren(
              el('p', { class: 'muted', text: `Groups (${e.groupsFrom}): ${e.groups.join('; ') || 'none'}` }),
              ...baselineWarnings(e.baseline),
              el(
                'table',
                {},
                el(
                  'tbody',
                  {},
                  Object.entries(e.explain).map(([f, src]) => {
                    const [s, k] = f.split('.');
                    return el(
                      'tr',
                      {},
                      el('td', { text: f }),
                      el('td', { text: String(e.settings[s][k]) }),
                      el('td', { text: sourceText(src) }),
                    );
                  }),
                ),
              ),
            );
          } catch (e) {
            effOut.replaceChildren(el('span', { class: 'err', text: e.message }));
          }
        },
      },
      el('label', { for: 'eff-user', text: 'User' }),
      effUser,
      el('button', { type: 'submit', text: 'Explain' }),
    ),
    effOut,
  );
}

/** Where a value comes from, as the server explains it. */
function sourceText(src) {
  if (src.kind !== 'baseline') return `${src.kind}: ${src.name}`;
  const what = `${src.service} configuration${src.key ? ` ${src.key}` : ''}`;
  return src.reported === false ? `${what} (default: no ${src.service} has reported)` : what;
}

function baselineWarnings(b) {
  return [
    ...b.missing.map((svc) =>
      el('p', { class: 'err', text: `No ${svc} has reported its configuration; its defaults are shown.` }),
    ),
    ...b.conflicts.map((c) =>
      el('p', {
        class: 'err',
        text: `${c.field} differs between replicas: ${c.values.map((v) => `${v.instance}=${v.value}`).join(', ')}`,
      }),
    ),
  ];
}

/**
 * `inh` is GET /v1/policies/inherited: a default policy's fields inherit the services' configuration
 * (inh.baseline), group and user policies the baseline under the default policy (inh.inherited).
 */
function policyForm(p, isNew, inh) {
  const below = p.kind === 'default' ? inh.baseline : inh.inherited;
  const errs = {};
  const errSpan = (name) => (errs[name] = el('span', { class: 'err', id: `err-${name}`, role: 'alert' }));
  const s = p.settings;
  const full = p.kind === 'default';
  const body = [];
  const meta = el(
    'fieldset',
    {},
    el('legend', { text: 'Policy' }),
    isNew
      ? el(
          'div',
          { class: 'row' },
          el('label', { for: 'policyId', text: 'Id' }),
          el('input', { id: 'policyId', type: 'text', value: p.policyId, readonly: full || undefined }),
          errSpan('policyId'),
        )
      : null,
    el(
      'div',
      { class: 'row' },
      el('label', { for: 'name', text: 'Name' }),
      el('input', { id: 'name', type: 'text', value: p.name }),
      errSpan('name'),
    ),
    p.kind === 'group'
      ? el(
          'div',
          { class: 'row' },
          el('label', { for: 'group', text: 'AD group (CN or DN)' }),
          el('input', { id: 'group', type: 'text', value: p.group ?? '' }),
          errSpan('group'),
        )
      : null,
    p.kind === 'group'
      ? el(
          'div',
          { class: 'row' },
          el('label', { for: 'priority', text: 'Priority' }),
          el('input', { id: 'priority', type: 'number', value: p.priority ?? 0 }),
          errSpan('priority'),
        )
      : null,
    p.kind === 'user'
      ? el(
          'div',
          { class: 'row' },
          el('label', { for: 'user', text: 'User (sAMAccountName)' }),
          el('input', { id: 'user', type: 'text', value: p.user ?? '' }),
          errSpan('user'),
        )
      : null,
    el(
      'div',
      { class: 'row' },
      el('label', { for: 'active', text: 'Active' }),
      el('input', { id: 'active', type: 'checkbox', checked: p.active }),
    ),
  );
  body.push(meta);
  for (const [section, title, fields] of FIELDS) {
    const fs = el('fieldset', { id: `section-${section}` }, el('legend', { text: title }));
    for (const [name, label, type] of fields) {
      const value = s[section]?.[name];
      const set = value !== undefined;
      // Group and user policies override only the fields they set ("inherit" otherwise).
      const inherit = full
        ? null
        : el('input', {
            type: 'checkbox',
            id: `set-${name}`,
            checked: set,
            'aria-label': `Override ${label}`,
          });
      const v = value ?? below.settings[section][name];
      let input;
      if (type === 'bool') input = el('input', { id: name, type: 'checkbox', checked: v });
      else if (type === 'expiry') {
        // A configured expiry need not be one of the policy choices; show it, as it is what applies.
        const choices = inh.cacheExpiryChoices.includes(v)
          ? inh.cacheExpiryChoices
          : [v, ...inh.cacheExpiryChoices];
        input = el(
          'select',
          { id: name },
          choices.map((x) => el('option', { value: x, selected: x === v, text: expiryLabel(x) })),
        );
      } else input = el('input', { id: name, type: 'number', value: v });
      const from = el('span', {
        class: 'muted',
        text: `inherits ${below.settings[section][name]} from ${sourceText(below.explain[`${section}.${name}`])}`,
      });
      fs.append(
        el(
          'div',
          { class: 'row', id: `row-${name}` },
          el('label', { for: name, text: label }),
          input,
          inherit ? el('label', { class: 'muted' }, inherit, ' override') : null,
          from,
          errSpan(name),
        ),
      );
    }
    body.push(fs);
  }
  const formErr = el('div', { class: 'err', id: 'form-error', role: 'alert' });
  const form = el(
    'form',
    {
      id: 'policy-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        for (const e of Object.values(errs)) e.textContent = '';
        formErr.textContent = '';
        const settings = {};
        for (const [section, , fields] of FIELDS) {
          for (const [name, , type] of fields) {
            if (!full && !$(`#set-${name}`).checked) continue;
            const input = $(`#${name}`);
            if (!input || $(`#row-${name}`).hidden) continue;
            const val = type === 'bool' ? input.checked : Number(input.value);
            // The default policy's form shows every field; one it did not set and still inherits
            // unchanged is not sent, so saving the form as shown changes nothing.
            if (full && s[section]?.[name] === undefined && val === below.settings[section][name]) continue;
            if (type === 'int' && (!Number.isInteger(val) || input.value === '')) {
              errs[name].textContent = 'a whole number';
              return;
            }
            (settings[section] ??= {})[name] = val;
          }
        }
        const req = { name: $('#name').value, active: $('#active').checked, settings };
        if (p.kind === 'group') {
          req.group = $('#group').value;
          req.priority = Number($('#priority').value);
        }
        if (p.kind === 'user') req.user = $('#user').value;
        try {
          let saved;
          if (isNew)
            saved = (
              await api('POST', '/v1/policies', { policyId: $('#policyId').value, kind: p.kind, ...req })
            ).data;
          else
            saved = (
              await api('PUT', `/v1/policies/${encodeURIComponent(p.policyId)}`, req, {
                'if-match': `"${p.revision}"`,
              })
            ).data;
          toast(`Saved ${saved.name} (revision ${saved.revision})`);
          location.hash = `#/policies/${encodeURIComponent(saved.policyId)}`;
          if (!isNew) route();
        } catch (e) {
          const key = (e.field ?? '').split('.').pop();
          if (e.status === 409) formErr.textContent = `${e.message}`;
          else if (key && errs[key]) {
            errs[key].textContent = e.message;
            $(`#${key}`)?.focus();
          } else formErr.textContent = e.message;
        }
      },
    },
    ...body,
    formErr,
    el(
      'div',
      { class: 'toolbar' },
      el('button', { class: 'primary', type: 'submit', id: 'save', text: 'Save' }),
      !isNew && p.kind !== 'default'
        ? el('button', {
            type: 'button',
            id: 'toggle-active',
            text: p.active ? 'Deactivate' : 'Activate',
            onclick: async () => {
              try {
                await api(
                  'POST',
                  `/v1/policies/${encodeURIComponent(p.policyId)}/${p.active ? 'deactivate' : 'activate'}`,
                  undefined,
                  { 'if-match': `"${p.revision}"` },
                );
                route();
              } catch (e) {
                formErr.textContent = e.message;
              }
            },
          })
        : null,
      el('a', { href: '#/policies', text: 'Back to policies' }),
    ),
  );
  // The guide: clearing Cache User Status hides Cache Expiry.
  const sync = () => {
    $('#row-cacheExpirySeconds').hidden = !$('#cacheUserStatus').checked;
  };
  form.addEventListener('change', sync);
  return { form, sync };
}

async function policyPage(id) {
  const [{ data: p }, { data: inh }] = await Promise.all([
    api('GET', `/v1/policies/${encodeURIComponent(id)}`),
    api('GET', '/v1/policies/inherited'),
  ]);
  const { form, sync } = policyForm(p, false, inh);
  setPage(
    `Policy: ${p.name}`,
    el('p', {
      class: 'muted',
      text: `${p.kind} policy · revision ${p.revision} · updated by ${p.updated.by}`,
    }),
    form,
  );
  sync();
}

async function newPolicyPage(kind) {
  const { data: inh } = await api('GET', '/v1/policies/inherited');
  // A new default policy sets nothing yet: its form shows the services' configuration, in force now.
  const p =
    kind === 'default'
      ? { policyId: 'default', kind, name: 'Default group policy', active: true, settings: {} }
      : { policyId: '', kind, name: '', active: true, settings: {} };
  const { form, sync } = policyForm(p, true, inh);
  setPage(`New ${kind} policy`, form, ...baselineWarnings(inh.baseline));
  sync();
}

// ----- enrollments -------------------------------------------------------------------------------
/**
 * The "Directory" cell: where the enrollment's bound account stands now (the server checks it through
 * user-status) and the fix: Update for a renamed account, Re-enroll when it is gone or its name now
 * belongs to someone else, Bind for enrollments made before objectGUIDs were recorded.
 */
function bindingCell(e) {
  const id = encodeURIComponent(e.bandId);
  const td = el('td', { class: 'binding', id: `binding-${e.bandId}`, text: 'checking…' });
  const fix = async (body, done) => {
    try {
      await api('POST', `/v1/enrollments/${id}/binding`, body, { 'if-match': `"${e.revision}"` });
      toast(done);
      route();
    } catch (err) {
      toast(err.message);
    }
  };
  const button = (label, body, done) =>
    el('button', {
      id: `${label.toLowerCase()}-binding-${e.bandId}`,
      text: label,
      onclick: () => fix(body, done),
    });
  const reenroll = () => {
    const input = el('input', {
      id: `reenroll-user-${e.bandId}`,
      type: 'text',
      value: e.user.sAMAccountName,
      'aria-label': `Re-enroll band ${e.bandId} to user`,
    });
    return [
      input,
      el('button', {
        id: `reenroll-${e.bandId}`,
        text: 'Re-enroll',
        onclick: () =>
          fix({ user: { sAMAccountName: input.value } }, `${e.bandId} re-enrolled to ${input.value}`),
      }),
    ];
  };
  api('GET', `/v1/enrollments/${id}/binding`)
    .then(({ data }) => {
      switch (data.state) {
        case 'bound':
          td.replaceChildren('bound');
          break;
        case 'renamed':
          td.replaceChildren(
            `renamed: now ${data.current.sAMAccountName} (${data.current.dn}) `,
            button('Update', {}, `${e.bandId} updated to ${data.current.sAMAccountName}`),
          );
          break;
        case 'gone':
          td.replaceChildren('account deleted ', ...reenroll());
          break;
        case 'identity_changed':
          td.replaceChildren('name now belongs to another account; taps refused ', ...reenroll());
          break;
        case 'unbound':
          td.replaceChildren('not bound to a directory object ', button('Bind', {}, `${e.bandId} bound`));
          break;
        default:
          td.replaceChildren(`unknown (${data.why ?? data.state})`);
      }
    })
    .catch((err) => td.replaceChildren(`unknown (${err.message})`));
  return td;
}

async function enrollmentsPage() {
  const { data } = await api('GET', '/v1/enrollments');
  const filter = el('input', {
    id: 'enr-filter',
    type: 'text',
    placeholder: 'user or band',
    'aria-label': 'Filter enrollments',
  });
  const tbody = el('tbody');
  const draw = () => {
    const f = filter.value.toLowerCase();
    tbody.replaceChildren(
      ...data.items
        .filter(
          (e) => !f || e.bandId.toLowerCase().includes(f) || e.user.sAMAccountName.toLowerCase().includes(f),
        )
        .map((e) =>
          el(
            'tr',
            { id: `enr-${e.bandId}` },
            el('td', { text: e.user.sAMAccountName }),
            el('td', { text: e.user.displayName ?? '' }),
            el('td', { text: e.bandId }),
            el('td', { class: 'state', text: e.active ? 'active' : 'suspended' }),
            bindingCell(e),
            el(
              'td',
              {},
              el('button', {
                id: `${e.active ? 'suspend' : 'reactivate'}-${e.bandId}`,
                text: e.active ? 'Suspend' : 'Reactivate',
                onclick: async () => {
                  try {
                    await api(
                      'POST',
                      `/v1/enrollments/${encodeURIComponent(e.bandId)}/${e.active ? 'suspend' : 'reactivate'}`,
                      undefined,
                      { 'if-match': `"${e.revision}"` },
                    );
                    toast(`${e.bandId} ${e.active ? 'suspended' : 'reactivated'}`);
                    route();
                  } catch (err) {
                    toast(err.message);
                  }
                },
              }),
            ),
          ),
        ),
    );
  };
  filter.addEventListener('input', draw);
  const errs = {
    bandId: el('span', { class: 'err', id: 'err-bandId' }),
    user: el('span', { class: 'err', id: 'err-user' }),
    publicKey: el('span', { class: 'err', id: 'err-publicKey' }),
  };
  const enroll = el(
    'form',
    {
      id: 'enroll-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        for (const e of Object.values(errs)) e.textContent = '';
        try {
          await api('POST', '/v1/enrollments', {
            bandId: $('#new-band').value,
            user: { sAMAccountName: $('#new-user').value },
            publicKey: $('#new-key').value,
          });
          toast('Enrolled');
          route();
        } catch (e) {
          const f = e.field ?? '';
          (f.startsWith('user') ? errs.user : f === 'publicKey' ? errs.publicKey : errs.bandId).textContent =
            e.message;
        }
      },
    },
    el(
      'fieldset',
      {},
      el('legend', { text: 'Enroll a band' }),
      el(
        'div',
        { class: 'row' },
        el('label', { for: 'new-band', text: 'Band id' }),
        el('input', { id: 'new-band', type: 'text' }),
        errs.bandId,
      ),
      el(
        'div',
        { class: 'row' },
        el('label', { for: 'new-user', text: 'User (sAMAccountName)' }),
        el('input', { id: 'new-user', type: 'text' }),
        errs.user,
      ),
      el(
        'div',
        { class: 'row' },
        el('label', { for: 'new-key', text: 'Public key (PEM, base64url or JWK)' }),
        el('input', { id: 'new-key', type: 'text' }),
        errs.publicKey,
      ),
      el('button', { type: 'submit', class: 'primary', text: 'Enroll' }),
    ),
  );
  setPage(
    'Enrollments',
    el('div', { class: 'toolbar' }, filter),
    el(
      'table',
      { id: 'enrollments' },
      el(
        'thead',
        {},
        el('tr', {}, ...['User', 'Name', 'Band', 'State', 'Directory', ''].map((h) => el('th', { text: h }))),
      ),
      tbody,
    ),
    el('br'),
    enroll,
  );
  draw();
}

// ----- terminals ---------------------------------------------------------------------------------
async function terminalsPage() {
  const { data } = await api('GET', '/v1/terminals');
  const out = el('div', { id: 'credential-out', role: 'status' });
  const err = el('span', { class: 'err', id: 'err-terminalId' });
  const showCred = (c) =>
    out.replaceChildren(
      el('p', { text: "Credential (shown once; put it in the terminal's credential_file):" }),
      el('pre', { text: c }),
    );
  // Connection and last tap: what the gateways announced since the policy service started.
  const connection = (c) =>
    c ? `${c.state} since ${new Date(c.since).toLocaleString()} (${c.gateway}, ${c.address})` : 'not seen';
  const lastTap = (x) =>
    x
      ? `${new Date(x.at).toLocaleString()} ${x.kind} ${x.user ?? x.bandId ?? ''}: ${x.outcome}` +
        (x.reason ? ` (${x.reason})` : '')
      : 'none seen';
  const rows = data.items.map((t) =>
    el(
      'tr',
      { id: `term-${t.terminalId}` },
      el('td', { text: t.terminalId }),
      el('td', { text: t.description ?? '' }),
      el('td', {
        class: 'state',
        text:
          (t.enabled ? 'enabled' : 'disabled') +
          (t.certificateSha256 ? `, ${t.certificateSha256.length} cert pinned` : ''),
        title: (t.certificateSha256 ?? []).join('\n'),
      }),
      el('td', { class: 'connection', text: connection(t.activity?.connection) }),
      el('td', { class: 'last-tap', text: lastTap(t.activity?.lastTap) }),
      el(
        'td',
        {},
        el('button', {
          text: 'New credential',
          onclick: async () => {
            try {
              showCred(
                (
                  await api('POST', `/v1/terminals/${t.terminalId}/credential`, undefined, {
                    'if-match': `"${t.revision}"`,
                  })
                ).data.credential,
              );
            } catch (e) {
              toast(e.message);
            }
          },
        }),
        ' ',
        el('button', {
          text: 'Pins',
          title:
            'Pinned client certificates (SHA-256); only these may connect. Empty: any certificate of the CA.',
          onclick: async () => {
            const given = prompt(
              'SHA-256 fingerprints of the certificates this terminal may use (openssl x509 -noout -fingerprint -sha256), separated by spaces. Empty removes pinning.',
              (t.certificateSha256 ?? []).join(' '),
            );
            if (given === null) return;
            try {
              await api(
                'PUT',
                `/v1/terminals/${t.terminalId}/certificates`,
                { certificateSha256: given.split(/[\s,]+/).filter(Boolean) },
                { 'if-match': `"${t.revision}"` },
              );
              route();
            } catch (e) {
              toast(e.message);
            }
          },
        }),
        ' ',
        el('button', {
          text: t.enabled ? 'Disable' : 'Enable',
          onclick: async () => {
            try {
              await api(
                'POST',
                `/v1/terminals/${t.terminalId}/${t.enabled ? 'disable' : 'enable'}`,
                undefined,
                { 'if-match': `"${t.revision}"` },
              );
              route();
            } catch (e) {
              toast(e.message);
            }
          },
        }),
      ),
    ),
  );
  const form = el(
    'form',
    {
      class: 'toolbar',
      onsubmit: async (ev) => {
        ev.preventDefault();
        err.textContent = '';
        try {
          const { data: r } = await api('POST', '/v1/terminals', {
            terminalId: $('#new-terminal').value,
            description: $('#new-desc').value || undefined,
          });
          showCred(r.credential);
        } catch (e) {
          err.textContent = e.message;
        }
      },
    },
    el('label', { for: 'new-terminal' }, 'Terminal id', el('input', { id: 'new-terminal', type: 'text' })),
    el('label', { for: 'new-desc' }, 'Description', el('input', { id: 'new-desc', type: 'text' })),
    el('button', { type: 'submit', class: 'primary', text: 'Register terminal' }),
    err,
  );
  setPage(
    'Terminals',
    el(
      'table',
      { id: 'terminals' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ...['Terminal', 'Description', 'State', 'Connection', 'Last tap', ''].map((h) =>
            el('th', { text: h }),
          ),
        ),
      ),
      el('tbody', {}, rows),
    ),
    el('h3', { text: 'Credentials for a new terminal' }),
    form,
    out,
  );
}

// ----- applications ------------------------------------------------------------------------------
// NEA applications that may bind explicitly to terminals (docs/security.md). The server decides what a
// valid scope is; this page only sends what the administrator typed and shows the server's answer.
async function applicationsPage() {
  const { data } = await api('GET', '/v1/applications');
  const out = el('div', { id: 'app-credential-out', role: 'status' });
  const err = el('span', { class: 'err', id: 'err-application' });
  const showCred = (r) =>
    out.replaceChildren(
      el('p', {
        text: `Credential ${r.credentialId} of ${r.application.applicationId} (shown once; keep it on the application's server):`,
      }),
      el('pre', { text: r.credential }),
    );
  const scopeText = (terminals) => terminals.join(', ');
  const scopeList = (text) =>
    text
      .split(/[\s,]+/)
      .map((x) => x.trim())
      .filter(Boolean);
  const act = async (method, path, app, body) => {
    try {
      const r = await api(method, path, body, { 'if-match': `"${app.revision}"` });
      return r.data;
    } catch (e) {
      toast(e.message);
      return undefined;
    }
  };
  const rows = data.items.map((a) => {
    const scope = el('input', {
      type: 'text',
      value: scopeText(a.terminals),
      'aria-label': `Terminals of ${a.applicationId}`,
    });
    return el(
      'tr',
      { id: `app-${a.applicationId}` },
      el('td', { text: a.applicationId }),
      el('td', { text: a.displayName }),
      el(
        'td',
        {},
        scope,
        ' ',
        el('button', {
          text: 'Save scope',
          onclick: async () => {
            const body = { displayName: a.displayName, terminals: scopeList(scope.value) };
            if (await act('PUT', `/v1/applications/${a.applicationId}`, a, body)) route();
          },
        }),
      ),
      el('td', { class: 'state', text: a.enabled ? 'enabled' : 'disabled' }),
      el(
        'td',
        { class: 'credentials' },
        ...a.credentials.map((c) =>
          el(
            'div',
            {},
            `${c.credentialId} (${new Date(c.created.at).toLocaleString()}) `,
            el('button', {
              text: 'Revoke',
              'aria-label': `Revoke credential ${c.credentialId} of ${a.applicationId}`,
              onclick: async () => {
                if (
                  await act('DELETE', `/v1/applications/${a.applicationId}/credentials/${c.credentialId}`, a)
                )
                  route();
              },
            }),
          ),
        ),
      ),
      el(
        'td',
        {},
        el('button', {
          text: 'New credential',
          onclick: async () => {
            const r = await act('POST', `/v1/applications/${a.applicationId}/credentials`, a);
            if (r) {
              await route();
              $('#main').append(out);
              showCred(r);
            }
          },
        }),
        ' ',
        el('button', {
          text: a.enabled ? 'Disable' : 'Enable',
          onclick: async () => {
            if (
              await act('POST', `/v1/applications/${a.applicationId}/${a.enabled ? 'disable' : 'enable'}`, a)
            )
              route();
          },
        }),
        ' ',
        el('button', {
          text: 'Delete',
          onclick: async () => {
            if (!confirm(`Delete application ${a.applicationId}? Its sockets are closed.`)) return;
            try {
              await api('DELETE', `/v1/applications/${a.applicationId}`, undefined, {
                'if-match': `"${a.revision}"`,
              });
              route();
            } catch (e) {
              toast(e.message);
            }
          },
        }),
      ),
    );
  });
  const form = el(
    'form',
    {
      class: 'toolbar',
      onsubmit: async (ev) => {
        ev.preventDefault();
        err.textContent = '';
        try {
          const { data: r } = await api('POST', '/v1/applications', {
            applicationId: $('#new-app').value,
            displayName: $('#new-app-name').value,
            terminals: scopeList($('#new-app-terminals').value),
          });
          await route();
          $('#main').append(out);
          showCred(r);
        } catch (e) {
          err.textContent = e.message;
        }
      },
    },
    el('label', { for: 'new-app' }, 'Application id', el('input', { id: 'new-app', type: 'text' })),
    el('label', { for: 'new-app-name' }, 'Display name', el('input', { id: 'new-app-name', type: 'text' })),
    el(
      'label',
      { for: 'new-app-terminals' },
      'Terminals (ids or patterns such as LINE1-*)',
      el('input', { id: 'new-app-terminals', type: 'text' }),
    ),
    el('button', { type: 'submit', class: 'primary', text: 'Register application' }),
    err,
  );
  setPage(
    'Applications',
    el('p', {
      text: 'Applications (NEA clients) that may bind to a terminal by id. Pages on the terminal itself bind by address and need no entry here.',
    }),
    el(
      'table',
      { id: 'applications' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ...['Application', 'Name', 'Terminals', 'State', 'Credentials', ''].map((h) =>
            el('th', { text: h }),
          ),
        ),
      ),
      el('tbody', {}, rows),
    ),
    el('h3', { text: 'Register an application' }),
    form,
    out,
  );
}

// ----- audit -------------------------------------------------------------------------------------
/** GET whose body is kept as a Blob (a download); same error handling as api(). */
async function download(path) {
  const res = await fetch(path, { credentials: 'same-origin' });
  if (res.status === 401) {
    me = null;
    showLogin();
    throw new Error('not logged in');
  }
  if (!res.ok) {
    let message = `HTTP ${res.status}`;
    try {
      message = (await res.json())?.message ?? message;
    } catch {
      // not JSON
    }
    throw new Error(message);
  }
  return { blob: await res.blob(), res };
}

/** Hands a Blob to the browser as a file download. */
function saveBlob(blob, name) {
  const a = el('a', { href: URL.createObjectURL(blob), download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
}

/** Decision rows drawn in the table; the downloads always hold every record of the period. */
const AUDIT_ROWS_SHOWN = 500;

async function auditPage() {
  const q = el('input', {
    id: 'audit-filter',
    type: 'text',
    'aria-label': 'Filter (actor, action, target, user, outcome)',
  });
  const kind = el(
    'select',
    { id: 'audit-kind', 'aria-label': 'Which log' },
    el('option', { value: 'admin', text: 'Administrator changes' }),
    el('option', { value: 'decisions', text: 'Decisions (login, e-signature)' }),
  );
  const hours = el(
    'select',
    { id: 'audit-hours', 'aria-label': 'Period' },
    [1, 24, 168, 720].map((h) => el('option', { value: h, selected: h === 24, text: `last ${h} h` })),
    el('option', { value: 'all', text: 'everything' }),
  );
  const tbody = el('tbody');
  const status = el('p', { class: 'muted', id: 'audit-status' });
  const result = el('p', { id: 'audit-result', role: 'status' });
  const period = () => {
    if (hours.value === 'all') return '';
    const to = new Date(Date.now() + 60_000);
    const from = new Date(Date.now() - Number(hours.value) * 3_600_000);
    return `from=${from.toISOString()}&to=${to.toISOString()}`;
  };
  const showResult = (text, bad) => {
    result.textContent = text;
    result.className = bad ? 'err' : 'ok';
  };
  const exportFile = async (format) => {
    showResult(`Exporting ${format.toUpperCase()}…`, false);
    try {
      const { blob, res } = await download(`/v1/audit/export?${period()}&format=${format}`);
      const h = (name) => res.headers.get(`x-tapgate-audit-${name}`) ?? '?';
      const name =
        /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ??
        `tapgate-audit.${format}`;
      saveBlob(blob, name);
      const counts = `${h('records')} records exported; the trail holds ${h('stream-records')} records`;
      if (h('complete') === 'true')
        showResult(`Saved ${name}: ${counts}; nothing missing or unreadable.`, false);
      else
        showResult(
          `Saved ${name}: ${counts}. INCOMPLETE: ${h('missing')} sequences missing, unreadable: ${h('unreadable') || 'none'}. Run Verify.`,
          true,
        );
    } catch (e) {
      showResult(`Export failed: ${e.message}`, true);
    }
  };
  const verify = async () => {
    showResult('Verifying…', false);
    try {
      const { data: r } = await api('GET', '/v1/audit/verify');
      if (r.ok)
        showResult(
          `Chain intact: ${r.checked} records verified (sequences ${r.firstSeq}-${r.lastSeq}); head hash ${r.lastHash}`,
          false,
        );
      else
        showResult(
          `Chain BROKEN at sequence ${r.brokenAt}: ${r.why} (${r.detail}); ${r.checked} records verified before it`,
          true,
        );
    } catch (e) {
      showResult(`Verify failed: ${e.message}`, true);
    }
  };
  const decisionTools = el(
    'div',
    { class: 'toolbar', id: 'audit-decision-tools' },
    el('button', { type: 'button', id: 'audit-export-csv', onclick: () => exportFile('csv') }, 'Export CSV'),
    el(
      'button',
      { type: 'button', id: 'audit-export-json', onclick: () => exportFile('json') },
      'Export JSON',
    ),
    el('button', { type: 'button', id: 'audit-verify', onclick: verify }, 'Verify chain'),
  );
  let rows = [];
  const draw = () => {
    const f = q.value.toLowerCase();
    tbody.replaceChildren(
      ...rows
        .filter((r) => !f || r.search.includes(f))
        .map((r) =>
          el(
            'tr',
            {},
            ...r.cells.map((c) =>
              el('td', {}, typeof c === 'string' ? c : el('pre', { text: JSON.stringify(c, null, 1) })),
            ),
          ),
        ),
    );
  };
  const load = async () => {
    decisionTools.hidden = kind.value !== 'decisions';
    result.textContent = '';
    try {
      if (kind.value === 'admin') {
        const { data } = await api('GET', `/v1/audit/admin?limit=500&${period()}`);
        rows = data.items.map((r) => ({
          search: JSON.stringify(r).toLowerCase(),
          cells: [
            new Date(r.at).toLocaleString(),
            `${r.actor} (${r.via})`,
            r.action,
            r.target ? `${r.target.type} ${r.target.id}` : '',
            r.before ?? '',
            r.after ?? '',
          ],
        }));
        status.textContent = `${rows.length} records`;
      } else {
        const { data } = await api('GET', `/v1/audit/export?${period()}&format=json`);
        const list = Array.isArray(data) ? data : [];
        // Newest first, and only as many as a page can draw; the exports hold them all.
        rows = list
          .slice(-AUDIT_ROWS_SHOWN)
          .reverse()
          .map(({ seq, record: r }) => ({
            search: JSON.stringify(r).toLowerCase(),
            cells: [
              new Date(r.at).toLocaleString(),
              r.user?.sAMAccountName ?? '',
              [r.kind, r.outcome, r.signer ? `signer ${r.signer}` : ''].filter(Boolean).join(' '),
              r.terminalId ?? '',
              r.reason ?? '',
              `#${seq}${r.ceremonyId ? ` ceremony ${r.ceremonyId}` : ''}`,
            ],
          }));
        status.textContent =
          list.length > rows.length
            ? `${list.length} records (the newest ${rows.length} shown; export for all)`
            : `${list.length} records`;
      }
    } catch (e) {
      rows = [];
      status.textContent = e.message;
    }
    draw();
  };
  q.addEventListener('input', draw);
  kind.addEventListener('change', load);
  hours.addEventListener('change', load);
  setPage(
    'Audit',
    el('div', { class: 'toolbar' }, kind, hours, el('label', { for: 'audit-filter' }, 'Filter', q)),
    decisionTools,
    result,
    status,
    el(
      'table',
      { id: 'audit' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ...['When', 'Who', 'What', 'Target', 'Before / reason', 'After / record'].map((h) =>
            el('th', { text: h }),
          ),
        ),
      ),
      tbody,
    ),
  );
  await load();
}

// ----- routing -----------------------------------------------------------------------------------
async function route() {
  if (!me) return;
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  try {
    if (parts[0] === 'policies' && parts[1] === 'new') await newPolicyPage(parts[2]);
    else if (parts[0] === 'policies' && parts[1]) await policyPage(parts[1]);
    else if (parts[0] === 'enrollments') await enrollmentsPage();
    else if (parts[0] === 'terminals') await terminalsPage();
    else if (parts[0] === 'applications') await applicationsPage();
    else if (parts[0] === 'audit') await auditPage();
    else await policiesPage();
  } catch (e) {
    if (me) setPage('Error', el('p', { class: 'err', text: e.message }));
  }
}

window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', async () => {
  try {
    const { data } = await api('GET', '/v1/auth/me');
    me = data;
    csrf = data.csrfToken ?? '';
    start();
  } catch {
    showLogin();
  }
});
