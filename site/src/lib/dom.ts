// Tiny DOM helpers. Everything that comes from the API goes through textContent (via `text` or
// `el(..., text)`), never innerHTML, so a node name like "<img onerror=…>" stays plain text.

import { ApiError, errorMessage } from "./api";
import { fmtPricePerHour, fmtPricePerSec } from "./format";

type Attrs = Record<string, string | number | boolean | null | undefined>;
type Child = Node | string | null | undefined | false;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = String(v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return e;
}

/** The element with this id: each page declares the ids its script asks for. */
export const byId = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

export function $(sel: string, root: ParentNode = document): HTMLElement {
  const e = root.querySelector<HTMLElement>(sel);
  if (!e) throw new Error(`missing element ${sel}`);
  return e;
}

export function text(target: HTMLElement, s: string): void {
  target.textContent = s;
}

export function clear(target: HTMLElement): void {
  target.replaceChildren();
}

/** A status line: role=status for progress, role=alert for failures (screen readers announce both). */
export function showStatus(target: HTMLElement, message: string, kind: "info" | "error" | "success" | "loading" = "info"): void {
  target.hidden = !message;
  target.className = `notice notice-${kind}`;
  target.setAttribute("role", kind === "error" ? "alert" : "status");
  target.textContent = message;
}

export function hideStatus(target: HTMLElement): void {
  target.hidden = true;
  target.textContent = "";
}

export function loadingRow(colspan: number, message = "Loading…"): HTMLTableRowElement {
  return el("tr", {}, el("td", { colspan, class: "table-state" }, el("span", { class: "spinner", "aria-hidden": "true" }), message));
}

export function messageRow(colspan: number, message: string, kind: "empty" | "error" = "empty"): HTMLTableRowElement {
  return el("tr", {}, el("td", { colspan, class: `table-state table-${kind}`, role: kind === "error" ? "alert" : null }, message));
}

/** A table cell with a price per GB-second and, under it, the same per GB-hour. */
export function priceCell(pricePerGbSec: number | null | undefined): HTMLTableCellElement {
  return el(
    "td",
    { class: "num" },
    el("div", {}, fmtPricePerSec(pricePerGbSec)),
    el("div", { class: "cell-sub" }, fmtPricePerHour(pricePerGbSec)),
  );
}

/** A small button in a table row; `ariaLabel` names the row's item, which the visible label alone does not. */
export function rowButton(
  label: string,
  kind: "primary" | "secondary" | "ghost" | "danger",
  ariaLabel: string,
  onClick: () => void,
): HTMLButtonElement {
  const button = el("button", { class: `btn btn-${kind} btn-sm`, type: "button", "aria-label": ariaLabel }, label);
  button.addEventListener("click", onClick);
  return button;
}

export function badge(status: string): HTMLSpanElement {
  return el("span", { class: `badge badge-${status.replace(/[^a-z_]/g, "")}` }, status.replace(/_/g, " "));
}

/** Shows field errors next to their inputs (wired with aria-describedby) and returns those that matched no field. */
export function showFieldErrors(form: HTMLFormElement, errors: { field: string; message: string }[]): string[] {
  clearFieldErrors(form);
  const unmatched: string[] = [];
  for (const { field, message } of errors) {
    const name = field.split(".").pop() ?? field;
    const input = name ? form.querySelector<HTMLInputElement>(`[name="${CSS.escape(name)}"]`) : null;
    const slot = input ? form.querySelector<HTMLElement>(`#${CSS.escape(input.id)}-error`) : null;
    if (input && slot) {
      slot.textContent = message;
      slot.hidden = false;
      input.setAttribute("aria-invalid", "true");
    } else unmatched.push(field ? `${field}: ${message}` : message);
  }
  const first = form.querySelector<HTMLElement>('[aria-invalid="true"]');
  first?.focus();
  return unmatched;
}

/**
 * A failed form submission: the API's field errors next to their fields and those the form has no
 * field for in `status` (else `unplaced`, if given), any other failure as one message in `status`.
 */
export function showFormError(form: HTMLFormElement, status: HTMLElement, e: unknown, unplaced?: string): void {
  if (e instanceof ApiError && e.fieldErrors.length) {
    const rest = showFieldErrors(form, e.fieldErrors);
    if (rest.length || unplaced) showStatus(status, rest.length ? rest.join(" ") : unplaced!, "error");
  } else showStatus(status, errorMessage(e), "error");
}

export function setFieldError(form: HTMLFormElement, name: string, message: string): void {
  const input = form.querySelector<HTMLInputElement>(`[name="${CSS.escape(name)}"]`);
  const slot = input ? form.querySelector<HTMLElement>(`#${CSS.escape(input.id)}-error`) : null;
  if (!input || !slot) return;
  slot.textContent = message;
  slot.hidden = false;
  input.setAttribute("aria-invalid", "true");
}

export function clearFieldErrors(form: HTMLFormElement): void {
  form.querySelectorAll<HTMLElement>(".field-error").forEach((s) => {
    s.textContent = "";
    s.hidden = true;
  });
  form.querySelectorAll("[aria-invalid]").forEach((i) => {
    i.removeAttribute("aria-invalid");
  });
}

export function numberOrUndefined(v: FormDataEntryValue | null): number | undefined {
  if (v === null) return undefined;
  const s = String(v).trim();
  if (s === "") return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

export function setBusy(button: HTMLButtonElement, busy: boolean, busyLabel?: string): void {
  if (busy) {
    button.dataset.label ??= button.textContent ?? "";
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    if (busyLabel) button.textContent = busyLabel;
  } else {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    if (button.dataset.label !== undefined) button.textContent = button.dataset.label;
    delete button.dataset.label;
  }
}

export interface DialogField {
  name: string;
  label: string;
  type?: string;
  value?: string;
  hint?: string;
  required?: boolean;
  min?: string;
  step?: string;
  options?: { value: string; label: string }[];
}

/**
 * The script side of a page's <DetailDialog id>: wires its Close button and returns `open`, which
 * shows the dialog (titled, if given) with a loading notice and returns its content to fill in.
 */
export function detailDialog(id: string): (title?: string) => HTMLElement {
  const dialog = byId<HTMLDialogElement>(id);
  const content = byId(`${id}-content`);
  byId(`${id}-close`).addEventListener("click", () => dialog.close());
  return (title) => {
    if (title !== undefined) byId(`${id}-title`).textContent = title;
    content.replaceChildren(el("p", { class: "notice notice-loading", role: "status" }, "Loading…"));
    if (!dialog.open) dialog.showModal();
    return content;
  };
}

/**
 * The script side of a page's <Pager prefix>: Previous and Next move `offset` by `size` and call
 * `load`; `show` writes "Showing a–b of n" and enables only the buttons that lead somewhere.
 */
export function pager(prefix: string, size: number, load: () => void): { offset: number; show: (count: number, total: number) => void } {
  const id = (name: string) => (prefix ? `${prefix}-${name}` : name);
  const prev = byId<HTMLButtonElement>(id("prev"));
  const next = byId<HTMLButtonElement>(id("next"));
  const p = {
    offset: 0,
    show(count: number, total: number) {
      byId(id("range")).textContent = count ? `Showing ${p.offset + 1}–${p.offset + count} of ${total}` : "";
      prev.disabled = p.offset === 0;
      next.disabled = p.offset + count >= total;
    },
  };
  prev.addEventListener("click", () => ((p.offset = Math.max(0, p.offset - size)), load()));
  next.addEventListener("click", () => ((p.offset += size), load()));
  return p;
}

let dialogSeq = 0;

/**
 * A modal confirm/form built on <dialog> (focus is trapped and Escape cancels natively).
 * `onSubmit` runs with the form data; throw to keep the dialog open with the message shown.
 */
export function openDialog(opts: {
  title: string;
  message?: string;
  fields?: DialogField[];
  confirmLabel: string;
  danger?: boolean;
  onSubmit: (data: FormData) => Promise<void> | void;
}): void {
  const seq = ++dialogSeq;
  const dialog = el("dialog", { "aria-labelledby": `dlg-${seq}-title` });
  const form = el("form", { class: "dialog-body", method: "dialog", novalidate: true });
  const status = el("div", { hidden: true });
  form.append(el("div", { class: "dialog-head" }, el("h2", { id: `dlg-${seq}-title` }, opts.title)));
  if (opts.message) form.append(el("p", { class: "muted" }, opts.message));
  const grid = el("div", { class: "stack" });
  for (const f of opts.fields ?? []) {
    const id = `dlg-${seq}-${f.name}`;
    const describedBy = [f.hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(" ");
    const control = f.options
      ? el(
          "select",
          { id, name: f.name, "aria-describedby": describedBy },
          ...f.options.map((o) => el("option", { value: o.value, selected: o.value === f.value }, o.label)),
        )
      : el("input", {
          id,
          name: f.name,
          type: f.type ?? "text",
          value: f.value,
          required: f.required,
          min: f.min,
          step: f.step,
          "aria-describedby": describedBy,
        });
    grid.append(
      el(
        "div",
        { class: "field" },
        el("label", { for: id }, f.label),
        control,
        f.hint ? el("p", { class: "hint", id: `${id}-hint` }, f.hint) : null,
        el("p", { class: "field-error", id: `${id}-error`, hidden: true }),
      ),
    );
  }
  form.append(grid, status);
  const cancel = el("button", { class: "btn btn-secondary", type: "button", value: "cancel" }, "Cancel");
  const ok = el("button", { class: `btn ${opts.danger ? "btn-danger" : "btn-primary"}`, type: "submit" }, opts.confirmLabel);
  form.append(el("div", { class: "form-actions" }, ok, cancel));
  dialog.append(form);
  document.body.append(dialog);
  const opener = document.activeElement as HTMLElement | null;
  const close = () => {
    dialog.close();
    dialog.remove();
    opener?.focus?.();
  };
  cancel.addEventListener("click", close);
  dialog.addEventListener("cancel", (e) => (e.preventDefault(), close()));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    status.hidden = true;
    setBusy(ok, true);
    try {
      await opts.onSubmit(new FormData(form));
      close();
    } catch (err) {
      setBusy(ok, false);
      const fieldErrors = (err as { fieldErrors?: { field: string; message: string }[] }).fieldErrors ?? [];
      const rest = fieldErrors.length ? showFieldErrors(form, fieldErrors) : [];
      showStatus(status, rest.length ? rest.join(" ") : (err as Error).message || "Something went wrong.", "error");
    }
  });
  dialog.showModal();
  (form.querySelector<HTMLElement>("input, select") ?? ok).focus();
}
