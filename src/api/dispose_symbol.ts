/**
 * `Symbol.dispose` for `using`: Node has it from 20.4 (as `Symbol.for('nodejs.dispose')`), the
 * package supports every Node 20, so on an older one the same registered symbol is installed here,
 * before AudioClassifier's class body reads it.
 */
export function installDisposeSymbol(target: object = Symbol): symbol {
  const t = target as { dispose?: unknown };
  if (typeof t.dispose !== 'symbol')
    Object.defineProperty(target, 'dispose', { value: Symbol.for('nodejs.dispose'), configurable: false, writable: false });
  return t.dispose as symbol;
}

installDisposeSymbol();
