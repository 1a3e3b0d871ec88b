// Minimal typings for the parts of eslint-scope (v8) that free-vars.ts uses.
declare module "eslint-scope" {
  export interface Reference {
    identifier: { name: string; range: [number, number] };
  }
  export interface Variable {
    name: string;
  }
  export interface Scope {
    type: string;
    variables: Variable[];
    through: Reference[];
    childScopes: Scope[];
  }
  export interface ScopeManager {
    globalScope: Scope;
  }
  export function analyze(
    ast: object,
    options?: { ecmaVersion?: number; sourceType?: "script" | "module"; childVisitorKeys?: object },
  ): ScopeManager;
}
