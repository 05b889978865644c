/**
 * The fronts of one worker and their matching, as sozu 0.14's router: per listener, PRE rules in
 * insertion order, then the hostname tree (exact host, else a one-label `*.` wildcard), then POST
 * rules. In the tree, a matching EQUALS or REGEX rule beats every prefix (one with the request's
 * method first), and among prefixes the longest wins (at equal length a method rule wins); a rule
 * with a method matches only that method. Plain 0.13 fronts (prefix, tree, any method) keep the
 * old fast path: a host's list sorted longest first, the first prefix that matches wins. Regular
 * expressions are compiled once, when the front is added.
 */
import type { FrontSpec } from "./model.ts";

/** A rule that is not a plain prefix: compiled matcher and method filter. */
interface Rule {
  front: FrontSpec;
  /** 0 prefix, 1 equals, 2 regex. */
  kind: 0 | 1 | 2;
  regex: RegExp | null;
  method: string | null;
}

/** The tree rules of one hostname. */
interface HostRules {
  /** Plain prefix fronts, longest `pathBegin` first. */
  plain: FrontSpec[];
  /** Equals, regex and method-filtered rules (null while there are none: the fast path). */
  special: Rule[] | null;
}

/** The fronts of one listener. */
interface ListenerRules {
  exact: Map<string, HostRules>;
  wildcard: Map<string, HostRules>;
  pre: Rule[];
  post: Rule[];
}

function isPlain(f: FrontSpec): boolean {
  return (f.pathRule ?? "prefix") === "prefix" && !f.method &&
    (f.position ?? "tree") === "tree";
}

/** The identity of a front within its host and position (its cluster aside). */
function ruleKey(f: FrontSpec): string {
  return `${f.pathRule ?? "prefix"} ${f.method ?? ""} ${f.pathBegin}`;
}

function sameTarget(a: FrontSpec, b: FrontSpec): boolean {
  return (a.deny === true) === (b.deny === true) && a.clusterId === b.clusterId;
}

/** Compiles a front's matcher; throws naming the pattern when a regex does not compile. */
function compile(front: FrontSpec): Rule {
  const kind = front.pathRule === "equals" ? 1 : front.pathRule === "regex" ? 2 : 0;
  let regex: RegExp | null = null;
  if (kind === 2) {
    try {
      regex = new RegExp(front.pathBegin);
    } catch (error) {
      throw new Error(`invalid path regex ${JSON.stringify(front.pathBegin)}: ${error}`);
    }
  }
  return { front, kind, regex, method: front.method ?? null };
}

function pathMatches(rule: Rule, path: string): boolean {
  if (rule.kind === 0) return path.startsWith(rule.front.pathBegin);
  if (rule.kind === 1) return path === rule.front.pathBegin;
  return rule.regex!.test(path);
}

/** A rule's hostname (exact or `*.` wildcard) against a normalised request host. */
function hostMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith("*.")) return pattern === host;
  const dot = host.indexOf(".");
  return dot > 0 && host.slice(dot) === pattern.slice(1);
}

function firstRule(rules: readonly Rule[], host: string, path: string, method: string) {
  for (const r of rules) {
    if (r.method !== null && r.method !== method) continue;
    if (hostMatches(r.front.hostname, host) && pathMatches(r, path)) return r.front;
  }
  return null;
}

/** The tree's answer for one host: equals/regex first, else the longest prefix. */
function pickTree(rules: HostRules | undefined, path: string, method: string): FrontSpec | null {
  if (rules === undefined) return null;
  let plain: FrontSpec | null = null;
  for (const front of rules.plain) {
    if (front.pathBegin === "" || path.startsWith(front.pathBegin)) {
      plain = front;
      break;
    }
  }
  if (rules.special === null) return plain;
  let exactAny: FrontSpec | null = null;
  let prefix = plain;
  let prefixLength = plain === null ? -1 : plain.pathBegin.length;
  for (const r of rules.special) {
    if (r.method !== null && r.method !== method) continue;
    if (!pathMatches(r, path)) continue;
    if (r.kind !== 0) {
      if (r.method !== null) return r.front;
      exactAny ??= r.front;
    } else if (r.front.pathBegin.length >= prefixLength) {
      prefix = r.front;
      prefixLength = r.front.pathBegin.length;
    }
  }
  return exactAny ?? prefix;
}

function withoutKey(list: readonly FrontSpec[], key: string): FrontSpec[] {
  return list.filter((f) => ruleKey(f) !== key);
}

/** Fronts per listener, and the lookup of a request's front. */
export class FrontRouter {
  #listeners = new Map<string, ListenerRules>();
  #count = 0;

  /** Number of fronts. */
  get count(): number {
    return this.#count;
  }

  #rules(listener: string): ListenerRules {
    let rules = this.#listeners.get(listener);
    if (!rules) {
      rules = { exact: new Map(), wildcard: new Map(), pre: [], post: [] };
      this.#listeners.set(listener, rules);
    }
    return rules;
  }

  #hostMap(rules: ListenerRules, hostname: string): [Map<string, HostRules>, string] {
    const host = hostname.toLowerCase();
    return host.startsWith("*.") ? [rules.wildcard, host.slice(1)] : [rules.exact, host];
  }

  /**
   * Adds a front, replacing one with the same host, position, path rule and method. Throws when
   * its path regex does not compile.
   */
  add(front: FrontSpec): void {
    const rule = compile(front);
    const rules = this.#rules(front.listener);
    const key = ruleKey(front);
    const position = front.position ?? "tree";
    if (position !== "tree") {
      const list = position === "pre" ? rules.pre : rules.post;
      const at = list.findIndex((r) =>
        ruleKey(r.front) === key && r.front.hostname === front.hostname
      );
      if (at >= 0) list[at] = rule;
      else {
        list.push(rule);
        this.#count++;
      }
      return;
    }
    const [map, name] = this.#hostMap(rules, front.hostname);
    const before = map.get(name) ?? { plain: [], special: null };
    const had = before.plain.some((f) => ruleKey(f) === key) ||
      (before.special?.some((r) => ruleKey(r.front) === key) ?? false);
    const plain = withoutKey(before.plain, key);
    let special = before.special?.filter((r) => ruleKey(r.front) !== key) ?? null;
    if (isPlain(front)) {
      plain.push(front);
      plain.sort((a, b) => b.pathBegin.length - a.pathBegin.length);
    } else {
      (special ??= []).push(rule);
    }
    map.set(name, { plain, special: special?.length ? special : null });
    if (!had) this.#count++;
  }

  /** Removes a front (matched by host, position, path rule, method and target). */
  remove(front: FrontSpec): void {
    const rules = this.#listeners.get(front.listener);
    if (!rules) return;
    const key = ruleKey(front);
    const position = front.position ?? "tree";
    if (position !== "tree") {
      const list = position === "pre" ? rules.pre : rules.post;
      const at = list.findIndex((r) =>
        ruleKey(r.front) === key && r.front.hostname === front.hostname &&
        sameTarget(r.front, front)
      );
      if (at >= 0) {
        list.splice(at, 1);
        this.#count--;
      }
      return;
    }
    const [map, name] = this.#hostMap(rules, front.hostname);
    const before = map.get(name);
    if (!before) return;
    const drop = (f: FrontSpec) => ruleKey(f) === key && sameTarget(f, front);
    const plain = before.plain.filter((f) => !drop(f));
    const special = before.special?.filter((r) => !drop(r.front)) ?? null;
    const removed = before.plain.length - plain.length +
      (before.special?.length ?? 0) - (special?.length ?? 0);
    if (removed === 0) return;
    this.#count -= removed;
    if (plain.length === 0 && !special?.length) map.delete(name);
    else map.set(name, { plain, special: special?.length ? special : null });
  }

  /** Drops every front of a listener. */
  removeListener(listener: string): void {
    const rules = this.#listeners.get(listener);
    if (!rules) return;
    let n = rules.pre.length + rules.post.length;
    for (const map of [rules.exact, rules.wildcard]) {
      for (const h of map.values()) n += h.plain.length + (h.special?.length ?? 0);
    }
    this.#count -= n;
    this.#listeners.delete(listener);
  }

  /** The front for a normalised host, a path and a method on a listener, or null. */
  lookup(listener: string, host: string, path: string, method: string): FrontSpec | null {
    const rules = this.#listeners.get(listener);
    if (!rules) return null;
    if (rules.pre.length > 0) {
      const pre = firstRule(rules.pre, host, path, method);
      if (pre !== null) return pre;
    }
    let found = pickTree(rules.exact.get(host), path, method);
    if (found === null) {
      const dot = host.indexOf(".");
      if (dot > 0) found = pickTree(rules.wildcard.get(host.slice(dot)), path, method);
    }
    if (found !== null || rules.post.length === 0) return found;
    return firstRule(rules.post, host, path, method);
  }
}
