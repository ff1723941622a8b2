/**
 * `target` (a D1 or R2 binding) with one method replaced: `replace` gets the original, bound to
 * the binding, and returns what callers get instead. Every other member is the binding's own.
 */
export function replacingMethod<T extends object>(
  target: T,
  method: keyof T & string,
  replace: (original: (...args: never[]) => Promise<unknown>) => (...args: never[]) => Promise<unknown>,
): T {
  return new Proxy(target, {
    get(inner, property) {
      const value = Reflect.get(inner, property);
      if (typeof value !== "function") return value;
      const bound = value.bind(inner);
      return property === method ? replace(bound) : bound;
    },
  });
}

/** `target` whose every call of `method` answers `ms` later than it would. */
export const slowed = <T extends object>(target: T, method: keyof T & string, ms: number): T =>
  replacingMethod(target, method, (original) => async (...args) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return original(...args);
  });
