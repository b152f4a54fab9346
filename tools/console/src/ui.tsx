import {
  Alert,
  Button,
  FormHelperText,
  HelperText,
  HelperTextItem,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  PageSection,
  Title,
} from '@patternfly/react-core';
import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { message, problemsFor } from './api';

/** A page: its title as the one h2 and its content. */
export function PageBody(props: { title: string; children: ReactNode }) {
  useEffect(() => {
    document.title = `${props.title} · Tapgate console`;
  }, [props.title]);
  return (
    <PageSection id="main" aria-label={props.title}>
      <Title headingLevel="h2">{props.title}</Title>
      {props.children}
    </PageSection>
  );
}

export interface Notice {
  variant: 'success' | 'danger' | 'info';
  text: string;
}

/**
 * The outcome of the last action. `id` names the message text itself (without the alert's screen-reader
 * prefix such as "Success alert:"), for links and tests.
 */
export function Toast(props: { notice: Notice | undefined; id?: string }) {
  if (!props.notice) return null;
  return (
    <Alert
      isInline
      isPlain
      variant={props.notice.variant}
      title={
        <span id={props.id ?? 'toast'} className={props.notice.variant === 'danger' ? 'err' : 'ok'}>
          {props.notice.text}
        </span>
      }
    />
  );
}

/** Loads with `load` on mount and on `reload()`; errors become a notice. */
export function useLoad<T>(load: () => Promise<T>): {
  data: T | undefined;
  error: string | undefined;
  reload: () => void;
} {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (d) => live && (setData(d), setError(undefined)),
      (e: unknown) => live && setError(message(e)),
    );
    return () => {
      live = false;
    };
  }, [tick]);
  return { data, error, reload: useCallback(() => setTick((t) => t + 1), []) };
}

export interface ConfirmRequest {
  title: string;
  body: string;
  action: string;
  /** The action button in the danger colour (default); false for actions that undo a restriction. */
  danger?: boolean;
  run: () => Promise<void>;
}

/**
 * The console's one confirmation dialog, for every action that takes effect at once (suspend, disable,
 * enable, delete, rotate): `confirm(request)` opens it; the action runs only on its button.
 */
export function useConfirm(): [(r: ConfirmRequest) => void, ReactNode] {
  const [req, setReq] = useState<ConfirmRequest>();
  const [busy, setBusy] = useState(false);
  const close = () => setReq(undefined);
  const dialog = (
    <Modal
      variant="small"
      isOpen={req !== undefined}
      onClose={close}
      aria-labelledby="confirm-title"
      id="confirm"
    >
      <ModalHeader title={req?.title ?? ''} labelId="confirm-title" />
      <ModalBody>{req?.body}</ModalBody>
      <ModalFooter>
        <Button
          id="confirm-ok"
          variant={req?.danger === false ? 'primary' : 'danger'}
          isDisabled={busy}
          onClick={() => {
            if (!req) return;
            setBusy(true);
            void req.run().finally(() => {
              setBusy(false);
              close();
            });
          }}
        >
          {req?.action}
        </Button>
        <Button variant="link" onClick={close}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
  return [setReq, dialog];
}

/** A small row button that opens the confirmation dialog; the label is also the dialog's action. */
export function ConfirmedButton(props: {
  label: string;
  confirm: (r: ConfirmRequest) => void;
  request: Omit<ConfirmRequest, 'action'>;
}) {
  return (
    <Button
      variant="secondary"
      size="sm"
      isDanger={props.request.danger !== false}
      onClick={() => props.confirm({ ...props.request, action: props.label })}
    >
      {props.label}
    </Button>
  );
}

export const when = (iso: string | undefined) => (iso ? new Date(iso).toLocaleString() : '');

/** An administrator change as "field: before → after" lines, not raw JSON. */
export function changes(before: unknown, after: unknown, prefix = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(before) || isObj(after)) {
    const b = isObj(before) ? before : {};
    const a = isObj(after) ? after : {};
    return [...new Set([...Object.keys(b), ...Object.keys(a)])]
      .filter((k) => !['created', 'updated', 'v'].includes(k))
      .flatMap((k) => changes(b[k], a[k], prefix ? `${prefix}.${k}` : k));
  }
  const isObjList = (v: unknown): v is unknown[] => Array.isArray(v) && v.some(isObj);
  if (isObjList(before) || isObjList(after)) {
    // Lists of records (credentials, pins) read element by element, never as JSON.
    const b = Array.isArray(before) ? before : [];
    const a = Array.isArray(after) ? after : [];
    return Array.from({ length: Math.max(a.length, b.length) }, (_, i) =>
      changes(b[i], a[i], `${prefix || 'value'}[${i}]`),
    ).flat();
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const show = (v: unknown): string =>
    v === undefined
      ? '—'
      : typeof v === 'string'
        ? v
        : Array.isArray(v)
          ? v.length === 0
            ? '(none)'
            : v.map(show).join(', ')
          : JSON.stringify(v);
  return [`${prefix || 'value'}: ${show(before)} → ${show(after)}`];
}

/** A field's problems from the API, under the field. */
export function FieldProblem(props: { err: unknown; field: string; id: string }) {
  const text = problemsFor(props.err, props.field);
  return text ? (
    <FormHelperText>
      <HelperText>
        <HelperTextItem variant="error">
          <span id={props.id}>{text}</span>
        </HelperTextItem>
      </HelperText>
    </FormHelperText>
  ) : null;
}
