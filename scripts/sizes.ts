/**
 * Lists the files over 400 lines and the functions over 60 lines under lib/ (the limits of the
 * skeleton issue): `deno run -R scripts/sizes.ts [dir…]`. A function is counted from its
 * declaration to its closing brace; nested functions are counted on their own and inside their
 * parent. Exit status 0 always: this is a reader's aid, the README says where a longer one stays.
 *
 * @module
 */
import ts from "typescript";

const FILE_LIMIT = 400;
const FUNCTION_LIMIT = 60;

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...walk(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

function nameOf(node: ts.Node, source: ts.SourceFile): string {
  const named = node as ts.Node & { name?: ts.Node };
  if (named.name) return named.name.getText(source);
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent)) return parent.name.getText(source);
  if (parent && ts.isPropertyAssignment(parent)) return parent.name.getText(source);
  if (parent && ts.isCallExpression(parent)) {
    return `(callback of ${parent.expression.getText(source).slice(0, 40)})`;
  }
  return "(anonymous)";
}

const rows: string[] = [];
for (const dir of Deno.args.length > 0 ? Deno.args : ["lib"]) {
  for (const file of walk(dir).sort()) {
    const text = Deno.readTextFileSync(file);
    const lines = text.split("\n").length - 1;
    if (lines > FILE_LIMIT) rows.push(`file     ${lines.toString().padStart(4)}  ${file}`);
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node) => {
      if (
        ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) ||
        ts.isArrowFunction(node) || ts.isFunctionExpression(node) ||
        ts.isConstructorDeclaration(node) || ts.isGetAccessor(node) || ts.isSetAccessor(node)
      ) {
        const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
        const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
        const length = end - start + 1;
        if (length > FUNCTION_LIMIT) {
          rows.push(
            `function ${length.toString().padStart(4)}  ${file}:${start + 1} ${
              nameOf(node, source)
            }`,
          );
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
}
console.log(rows.length > 0 ? rows.join("\n") : "nothing over the limits");
