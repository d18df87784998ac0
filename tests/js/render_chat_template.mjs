// Renders a chat template with @huggingface/jinja, the engine transformers.js uses for
// apply_chat_template. Usage: node render_chat_template.mjs TEMPLATE_FILE CONTEXT_JSON_FILE
// (the context: messages, bos_token, eos_token, add_generation_prompt). Prints the text.
import { readFileSync } from "node:fs";
import { Template } from "@huggingface/jinja";

const [templateFile, contextFile] = process.argv.slice(2);
const template = new Template(readFileSync(templateFile, "utf8"));
process.stdout.write(template.render(JSON.parse(readFileSync(contextFile, "utf8"))));
