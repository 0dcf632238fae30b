#!/usr/bin/env python3
"""Generate chat-template reference fixtures for acdc.

Run from the repo root:
    /work/venv-ref/bin/python tools/chat_template_fixtures.py

Writes tests/fixtures/chat/{llama3,qwen2,mistral}/{tokenizer.json,tokenizer_config.json,cases.json}.
Deterministic: the tokenizer is trained on a fixed inline corpus; no network.
"""
import json
import os
import sys

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
import transformers
import tokenizers
import jinja2
from transformers import AutoTokenizer

OUT = os.path.join("tests", "fixtures", "chat")

SPECIALS = [
    # Llama-3
    "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
    # ChatML / Qwen2
    "<|im_start|>", "<|im_end|>", "<|endoftext|>",
    # Mistral
    "<s>", "</s>", "[INST]", "[/INST]",
]

SUBJECTS = ["A dog", "The cat", "A bird", "The rain", "A car", "The wind", "A child", "The bell",
            "A man", "The woman", "A train", "The river", "A phone", "The crowd", "A drum", "The engine",
            "A baby", "The clock", "A horse", "The sea"]
VERBS = ["barks", "meows", "sings", "falls", "passes", "blows", "laughs", "rings", "speaks", "whispers"]
ADVS = ["twice.", "loudly.", "softly.", "in the distance.", "near the house.", "all night.",
        "again and again.", "for a while.", "quickly.", "behind the door."]


def corpus():
    lines = []
    for i, s in enumerate(SUBJECTS):
        for j in range(10):
            v = VERBS[(i + j) % len(VERBS)]
            a = ADVS[(i * 3 + j) % len(ADVS)]
            lines.append(f"{s} {v} {a}")
    lines += [
        "What do you hear?", "Answer briefly.", "Describe the audio.", "You are a helpful assistant.",
        "Rain falls.", "I hear a dog barking.", "Is there music in the clip?", "Yes, there is music.",
        "No, it is quiet.", "What sound is this?",
    ]
    return lines  # 210 sentences


def build_tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    return tok


# ---------------------------------------------------------------------------
# Chat templates, reproduced from memory of the published tokenizer_config.json
# files (the HF hub is unreachable from this environment).
# ---------------------------------------------------------------------------

LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)

QWEN2_TEMPLATE = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""

MISTRAL_TEMPLATE = r"""{%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}
{%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}

{#- This block checks for alternating user/assistant messages, skipping tool calling messages #}
{%- set ns = namespace() %}
{%- set ns.index = 0 %}
{%- for message in loop_messages %}
    {%- if not (message.role == "tool" or message.role == "tool_results" or (message.tool_calls is defined and message.tool_calls is not none)) %}
        {%- if (message["role"] == "user") != (ns.index % 2 == 0) %}
            {{- raise_exception("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...") }}
        {%- endif %}
        {%- set ns.index = ns.index + 1 %}
    {%- endif %}
{%- endfor %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if message["role"] == "user" %}
        {%- if tools is not none and (message == user_messages[-1]) %}
            {{- "[AVAILABLE_TOOLS] [" }}
            {%- for tool in tools %}
                {%- set tool = tool.function %}
                {{- '{"type": "function", "function": {' }}
                {%- for key, val in tool.items() if key != "return" %}
                    {%- if val is string %}
                        {{- '"' + key + '": "' + val + '"' }}
                    {%- else %}
                        {{- '"' + key + '": ' + val|tojson }}
                    {%- endif %}
                    {%- if not loop.last %}
                        {{- ", " }}
                    {%- endif %}
                {%- endfor %}
                {{- "}}" }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- else %}
                    {{- "]" }}
                {%- endif %}
            {%- endfor %}
            {{- "[/AVAILABLE_TOOLS]" }}
            {%- endif %}
        {%- if loop.last and system_message is defined %}
            {{- "[INST] " + system_message + "\n\n" + message["content"] + "[/INST]" }}
        {%- else %}
            {{- "[INST] " + message["content"] + "[/INST]" }}
        {%- endif %}
    {%- elif message.tool_calls is defined and message.tool_calls is not none %}
        {{- "[TOOL_CALLS] [" }}
        {%- for tool_call in message.tool_calls %}
            {%- set out = tool_call.function|tojson %}
            {{- out[:-1] }}
            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}
                {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
            {%- endif %}
            {{- ', "id": "' + tool_call.id + '"}' }}
            {%- if not loop.last %}
                {{- ", " }}
            {%- else %}
                {{- "]" + eos_token }}
            {%- endif %}
        {%- endfor %}
    {%- elif message["role"] == "assistant" %}
        {{- " " + message["content"]|trim + eos_token}}
    {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}
        {%- if message.content is defined and message.content.content is defined %}
            {%- set content = message.content.content %}
        {%- else %}
            {%- set content = message.content %}
        {%- endif %}
        {{- '[TOOL_RESULTS] {"content": ' + content|string + ", " }}
        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}
            {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
        {%- endif %}
        {{- '"call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' }}
    {%- else %}
        {{- raise_exception("Only user and assistant roles are supported, with the exception of an initial optional system message!") }}
    {%- endif %}
{%- endfor %}
"""

FAMILIES = {
    "llama3": dict(chat_template=LLAMA3_TEMPLATE, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>"),
    "qwen2": dict(chat_template=QWEN2_TEMPLATE, bos_token=None, eos_token="<|im_end|>"),
    "mistral": dict(chat_template=MISTRAL_TEMPLATE, bos_token="<s>", eos_token="</s>"),
}

AUDIO = "\ue000AUDIO\ue000"
CONVERSATIONS = [
    ("a_single_user", [{"role": "user", "content": "A dog barks twice."}]),
    ("b_system_user", [{"role": "system", "content": "Answer briefly."},
                       {"role": "user", "content": "What do you hear?"}]),
    ("c_user_assistant_user", [{"role": "user", "content": "What do you hear?"},
                               {"role": "assistant", "content": "A dog barks twice."},
                               {"role": "user", "content": "Describe the audio."}]),
    ("d_whitespace", [{"role": "user", "content": "  Rain falls.  "}]),
    ("e_audio_marker", [{"role": "user", "content": AUDIO + " Describe the audio."}]),
]
REJECTED = {
    "mistral": [("x_two_users", [{"role": "user", "content": "A dog barks twice."},
                                 {"role": "user", "content": "What do you hear?"}])],
}


def main():
    tok = build_tokenizer()
    for fam, cfg in FAMILIES.items():
        d = os.path.join(OUT, fam)
        os.makedirs(d, exist_ok=True)
        tok.save(os.path.join(d, "tokenizer.json"), pretty=True)
        tc = {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": cfg["bos_token"],
            "eos_token": cfg["eos_token"],
            "chat_template": cfg["chat_template"],
            "clean_up_tokenization_spaces": False,
        }
        with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(tc, f, indent=2, ensure_ascii=False)
            f.write("\n")

        hf = AutoTokenizer.from_pretrained(d)
        assert type(hf).__name__ in ("PreTrainedTokenizerFast", "TokenizersBackend"), type(hf)
        cases = []
        for name, msgs in CONVERSATIONS + REJECTED.get(fam, []):
            for agp in (True, False):
                rec = {"name": name, "messages": msgs, "add_generation_prompt": agp}
                try:
                    rendered = hf.apply_chat_template(msgs, tokenize=False, add_generation_prompt=agp)
                    ids = hf.apply_chat_template(msgs, tokenize=True, add_generation_prompt=agp,
                                                 return_dict=False)
                except Exception as e:  # template raise_exception -> TemplateError
                    rec["error"] = {"type": type(e).__name__, "message": str(e)}
                    cases.append(rec)
                    continue
                if hasattr(ids, "tolist"):
                    ids = ids.tolist()
                assert isinstance(ids, list) and all(isinstance(i, int) for i in ids), ids
                # sanity: ids == encode(rendered, add_special_tokens=False)
                assert ids == hf.encode(rendered, add_special_tokens=False)
                rec["rendered"] = rendered
                rec["ids"] = ids
                cases.append(rec)
        with open(os.path.join(d, "cases.json"), "w", encoding="utf-8") as f:
            json.dump(cases, f, indent=2, ensure_ascii=False)
            f.write("\n")
        print(fam, len(cases), "cases", file=sys.stderr)
    print(f"transformers {transformers.__version__} tokenizers {tokenizers.__version__} "
          f"jinja2 {jinja2.__version__} python {sys.version.split()[0]}", file=sys.stderr)


if __name__ == "__main__":
    main()
