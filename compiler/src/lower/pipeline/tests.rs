//! Unit tests of the pipeline lowering on JSON inputs (the evaluated form of kiln values).

use serde_json::{Value, json};

use super::codes;
use crate::lower::{LowerContext, LowerInput};

/// The manifests, or every problem when one is an error (warnings alone keep the manifests).
fn lower(name: &str, v: Value) -> Result<Vec<Value>, Vec<crate::lower::LowerError>> {
    let (out, problems) = super::lower(
        &LowerInput {
            ty: "pipeline.Pipeline",
            name,
            value: &v,
        },
        &LowerContext::default(),
    );
    if problems.iter().any(crate::lower::LowerError::is_error) {
        Err(problems)
    } else {
        Ok(out)
    }
}

fn spec(name: &str, v: Value) -> Value {
    let out = lower(name, v).unwrap_or_else(|e| panic!("lowering failed: {e:#?}"));
    out[1]["spec"]["pipelineSpec"].clone()
}

fn err_codes(name: &str, v: Value) -> Vec<&'static str> {
    match lower(name, v) {
        Ok(o) => panic!("expected errors, got {o:#?}"),
        Err(e) => e.iter().map(|e| e.code.id).collect(),
    }
}

#[test]
fn kfp_single_step() {
    let s = spec(
        "echo",
        json!({ "steps": { "echo": { "image": "alpine", "command": ["echo"], "args": ["hello world"] } } }),
    );
    assert_eq!(
        s["components"]["comp-echo"],
        json!({ "executorLabel": "exec-echo" })
    );
    assert_eq!(
        s["deploymentSpec"]["executors"]["exec-echo"]["container"],
        json!({ "args": ["hello world"], "command": ["echo"], "image": "alpine" })
    );
    assert_eq!(
        s["root"]["dag"]["tasks"]["echo"],
        json!({ "cachingOptions": { "enableCache": true }, "componentRef": { "name": "comp-echo" }, "taskInfo": { "name": "echo" } })
    );
    assert_eq!(s["pipelineInfo"]["name"], json!("echo"));
    assert_eq!(s["schemaVersion"], json!("2.1.0"));
}

#[test]
fn kfp_objects_carry_the_ir() {
    let out = lower("p", json!({ "namespace": "team", "schedule": "0 3 * * *", "kfp": { "version": "v1" }, "steps": { "a": { "image": "x" } } })).unwrap();
    assert_eq!(out[0]["kind"], json!("Pipeline"));
    assert_eq!(out[1]["kind"], json!("PipelineVersion"));
    assert_eq!(out[1]["metadata"]["name"], json!("p-v1"));
    assert_eq!(out[1]["metadata"]["namespace"], json!("team"));
    assert_eq!(out[1]["spec"]["pipelineName"], json!("p"));
    assert_eq!(out[2]["kind"], json!("ScheduledWorkflow"));
    assert_eq!(
        out[2]["spec"]["trigger"]["cronSchedule"]["cron"],
        json!("0 0 3 * * *")
    );
    // Without a version the name is content-derived.
    let out = lower("p", json!({ "steps": { "a": { "image": "x" } } })).unwrap();
    assert!(out[1]["metadata"]["name"].as_str().unwrap().starts_with("p-"));
}

#[test]
fn kfp_artifacts_params_and_dependencies() {
    let s = spec(
        "train",
        json!({
            "params": { "lr": { "Float": { "default": 0.001 } } },
            "steps": {
                "prep": { "image": "prep", "args": ["--out", "$(outputs.data)"], "outputs": { "data": { "kind": "Dataset" } } },
                "train": {
                    "image": "train",
                    "args": ["--data", "$(inputs.data)", "--lr", "$(inputs.lr)"],
                    "inputs": { "data": { "from": "steps.prep.outputs.data" }, "lr": { "kind": "Float", "from": "params.lr" } },
                    "outputs": { "model": { "kind": "Model" } },
                    "retries": { "limit": 2, "backoff": "30s", "factor": 2 },
                    "cache": false,
                    "gpu": 1
                }
            }
        }),
    );
    let t = &s["root"]["dag"]["tasks"]["train"];
    assert_eq!(t["dependentTasks"], json!(["prep"]));
    assert_eq!(
        t["inputs"]["artifacts"]["data"],
        json!({ "taskOutputArtifact": { "outputArtifactKey": "data", "producerTask": "prep" } })
    );
    assert_eq!(
        t["inputs"]["parameters"]["lr"],
        json!({ "componentInputParameter": "lr" })
    );
    assert_eq!(t["cachingOptions"], json!({}));
    assert_eq!(
        t["retryPolicy"],
        json!({ "backoffDuration": "30s", "backoffFactor": 2.0, "maxRetryCount": 2 })
    );
    let c = &s["components"]["comp-train"];
    assert_eq!(
        c["inputDefinitions"]["artifacts"]["data"]["artifactType"]["schemaTitle"],
        json!("system.Dataset")
    );
    assert_eq!(
        c["inputDefinitions"]["parameters"]["lr"],
        json!({ "parameterType": "NUMBER_DOUBLE" })
    );
    assert_eq!(
        c["outputDefinitions"]["artifacts"]["model"]["artifactType"]["schemaTitle"],
        json!("system.Model")
    );
    let ex = &s["deploymentSpec"]["executors"]["exec-train"]["container"];
    assert_eq!(
        ex["args"],
        json!([
            "--data",
            "{{$.inputs.artifacts['data'].path}}",
            "--lr",
            "{{$.inputs.parameters['lr']}}"
        ])
    );
    assert_eq!(
        ex["resources"]["accelerator"],
        json!({ "resourceCount": "1", "resourceType": "nvidia.com/gpu" })
    );
    assert_eq!(
        s["deploymentSpec"]["executors"]["exec-prep"]["container"]["args"],
        json!(["--out", "{{$.outputs.artifacts['data'].path}}"])
    );
    assert_eq!(
        s["root"]["inputDefinitions"]["parameters"]["lr"],
        json!({ "defaultValue": 0.001, "isOptional": true, "parameterType": "NUMBER_DOUBLE" })
    );
}

#[test]
fn k0411_artifact_type_mismatch() {
    let v = json!({ "steps": {
        "eval": { "image": "e", "outputs": { "report": { "kind": "HTML" } } },
        "train": { "image": "t", "inputs": { "data": { "kind": "Dataset", "from": "steps.eval.outputs.report" } } }
    } });
    let e = lower("p", v).unwrap_err();
    assert_eq!(e[0].code, codes::ARTIFACT_TYPE_MISMATCH);
    assert_eq!(e[0].pointer, "/steps/train/inputs/data/from");
    assert_eq!(
        e[0].message,
        "input `data` of step `train` needs a Dataset, but `steps.eval.outputs.report` is an HTML artifact"
    );
}

#[test]
fn k0411_template_input_type() {
    let v = json!({
        "engine": "argo",
        "templates": { "fit": { "image": "t", "inputs": { "data": { "kind": "Dataset" } } } },
        "steps": {
            "prep": { "image": "p", "outputs": { "n": { "kind": "Int", "path": "/tmp/n" } } },
            "fit": { "template": "fit", "inputs": { "data": { "from": "steps.prep.outputs.n" } } }
        }
    });
    assert_eq!(err_codes("p", v), vec!["K0411"]);
}

#[test]
fn k0412_cycles() {
    let v = json!({ "steps": {
        "a": { "image": "a", "after": ["c"] },
        "b": { "image": "b", "after": ["a"] },
        "c": { "image": "c", "inputs": { "x": { "from": "steps.b.outputs.o" } } }
    } });
    let e = lower("p", json!(v.clone())).unwrap_err();
    assert_eq!(
        e.iter().map(|e| e.code.id).collect::<Vec<_>>(),
        vec!["K0413", "K0412"]
    );
    let v = json!({ "steps": {
        "a": { "image": "a", "after": ["c"] },
        "b": { "image": "b", "after": ["a"], "outputs": { "o": {} } },
        "c": { "image": "c", "inputs": { "x": { "from": "steps.b.outputs.o" } } }
    } });
    let e = lower("p", v).unwrap_err();
    assert_eq!(e[0].code, codes::PIPELINE_CYCLE);
    assert!(
        e[0].message.contains("a -> c -> b -> a") || e[0].message.contains("cycle"),
        "{}",
        e[0].message
    );
}

#[test]
fn k0413_unknown_references_suggest() {
    let v = json!({
        "params": { "epochs": { "Int": { "default": 10 } } },
        "steps": {
            "prep": { "image": "p", "outputs": { "data": { "kind": "Dataset" } } },
            "train": { "image": "t", "args": ["$(params.epoch)"], "inputs": { "data": { "from": "steps.perp.outputs.data" } } },
            "eval": { "image": "e", "inputs": { "data": { "from": "steps.prep.outputs.dta" } } }
        }
    });
    let e = lower("p", v).unwrap_err();
    let helps: Vec<String> = e
        .iter()
        .map(|e| format!("{} {}", e.code.id, e.help.clone().unwrap_or_default()))
        .collect();
    assert!(
        helps.contains(&"K0413 did you mean `prep`?".to_string()),
        "{helps:?}"
    );
    assert!(
        helps.contains(&"K0413 did you mean `epochs`?".to_string()),
        "{helps:?}"
    );
    assert!(
        helps.contains(&"K0413 did you mean `data`?".to_string()),
        "{helps:?}"
    );
}

#[test]
fn k0414_k0415_k0416() {
    assert_eq!(err_codes("p", json!({ "steps": { "a": {} } })), vec!["K0414"]);
    assert_eq!(
        err_codes(
            "p",
            json!({ "steps": { "a": { "image": "x", "template": "y" } } })
        ),
        vec!["K0414"]
    );
    assert_eq!(
        err_codes(
            "p",
            json!({ "steps": { "a": { "image": "x", "inputs": { "n": { "kind": "Int", "value": "ten" } } } } })
        ),
        vec!["K0415"]
    );
    assert_eq!(
        err_codes(
            "p",
            json!({ "steps": { "a": { "resource": { "action": "create", "manifest": "{}" } } } })
        ),
        vec!["K0416"]
    );
}

#[test]
fn kfp_conditions_nest_like_kfp() {
    // The shape of kfp's flip_coin: conditions are groups with pipelinechannel inputs.
    let s = spec(
        "conditional-execution-pipeline",
        json!({
            "groups": {
                "condition-1": { "when": { "ref": "steps.flip_coin.outputs.Output", "op": "==", "value": "heads" } },
                "condition-2": { "group": "condition-1", "when": { "ref": "steps.random_num.outputs.Output", "op": ">", "value": "5" } }
            },
            "steps": {
                "flip_coin": { "image": "python:3.11", "cache": false, "outputs": { "Output": { "kind": "String" } } },
                "random_num": { "group": "condition-1", "image": "python:3.11", "cache": false,
                    "inputs": { "low": { "kind": "Int", "value": "0" }, "high": { "kind": "Int", "value": "9" } },
                    "outputs": { "Output": { "kind": "Int" } } },
                "print_msg": { "group": "condition-2", "image": "python:3.11", "cache": false,
                    "inputs": { "msg": { "kind": "String", "value": "heads and $(steps.random_num.outputs.Output) > 5!" } } }
            }
        }),
    );
    let c1 = &s["root"]["dag"]["tasks"]["condition-1"];
    assert_eq!(
        c1["triggerPolicy"]["condition"],
        json!("inputs.parameter_values['pipelinechannel--flip-coin-Output'] == 'heads'")
    );
    assert_eq!(c1["dependentTasks"], json!(["flip-coin"]));
    assert_eq!(
        c1["inputs"]["parameters"]["pipelinechannel--flip-coin-Output"],
        json!({ "taskOutputParameter": { "outputParameterKey": "Output", "producerTask": "flip-coin" } })
    );
    let comp1 = &s["components"]["comp-condition-1"];
    let c2 = &comp1["dag"]["tasks"]["condition-2"];
    assert_eq!(
        c2["triggerPolicy"]["condition"],
        json!("int(inputs.parameter_values['pipelinechannel--random-num-Output']) > 5")
    );
    assert_eq!(
        c2["inputs"]["parameters"]["pipelinechannel--flip-coin-Output"],
        json!({ "componentInputParameter": "pipelinechannel--flip-coin-Output" })
    );
    let comp2 = &s["components"]["comp-condition-2"];
    assert_eq!(
        comp2["inputDefinitions"]["parameters"],
        json!({ "pipelinechannel--flip-coin-Output": { "parameterType": "STRING" }, "pipelinechannel--random-num-Output": { "parameterType": "NUMBER_INTEGER" } })
    );
    let pm = &comp2["dag"]["tasks"]["print-msg"];
    assert_eq!(
        pm["inputs"]["parameters"]["msg"],
        json!({ "runtimeValue": { "constant": "heads and {{$.inputs.parameters['pipelinechannel--random-num-Output']}} > 5!" } })
    );
    assert_eq!(
        pm["inputs"]["parameters"]["pipelinechannel--random-num-Output"],
        json!({ "componentInputParameter": "pipelinechannel--random-num-Output" })
    );
    assert_eq!(
        s["components"]["comp-random-num"]["inputDefinitions"]["parameters"]["high"],
        json!({ "parameterType": "NUMBER_INTEGER" })
    );
    assert_eq!(
        comp1["dag"]["tasks"]["random-num"]["inputs"]["parameters"]["high"],
        json!({ "runtimeValue": { "constant": 9 } })
    );
}

#[test]
fn kfp_loop_fan_in_and_exit_handler() {
    let s = spec(
        "math-pipeline",
        json!({
            "groups": { "for-loop-2": { "for_each": { "numbers": [1, 2, 3] } } },
            "steps": {
                "double": { "group": "for-loop-2", "image": "python:3.11",
                    "inputs": { "num": { "from": "item" } }, "outputs": { "out_dataset": { "kind": "Dataset" } } },
                "add": { "image": "python:3.11", "inputs": { "in_datasets": { "kind": "Dataset", "list": true, "from": "steps.double.outputs.out_dataset" } },
                    "outputs": { "out_dataset": { "kind": "Dataset" } } }
            },
            "outputs": { "Output": { "from": "steps.double.outputs.out_dataset", "list": true } }
        }),
    );
    let lp = &s["root"]["dag"]["tasks"]["for-loop-2"];
    assert_eq!(
        lp["parameterIterator"],
        json!({ "itemInput": "pipelinechannel--loop-item-param-1", "items": { "raw": "[1, 2, 3]" } })
    );
    let comp = &s["components"]["comp-for-loop-2"];
    assert_eq!(
        comp["inputDefinitions"]["parameters"]["pipelinechannel--loop-item-param-1"],
        json!({ "parameterType": "NUMBER_INTEGER" })
    );
    assert_eq!(
        comp["dag"]["outputs"]["artifacts"]["pipelinechannel--double-out_dataset"],
        json!({ "artifactSelectors": [ { "outputArtifactKey": "out_dataset", "producerSubtask": "double" } ] })
    );
    assert_eq!(
        comp["outputDefinitions"]["artifacts"]["pipelinechannel--double-out_dataset"]["isArtifactList"],
        json!(true)
    );
    let add = &s["root"]["dag"]["tasks"]["add"];
    assert_eq!(add["dependentTasks"], json!(["for-loop-2"]));
    assert_eq!(
        add["inputs"]["artifacts"]["in_datasets"],
        json!({ "taskOutputArtifact": { "outputArtifactKey": "pipelinechannel--double-out_dataset", "producerTask": "for-loop-2" } })
    );
    assert_eq!(
        s["components"]["comp-add"]["inputDefinitions"]["artifacts"]["in_datasets"]["isArtifactList"],
        json!(true)
    );
    assert_eq!(
        s["root"]["dag"]["outputs"]["artifacts"]["Output"],
        json!({ "artifactSelectors": [ { "outputArtifactKey": "pipelinechannel--double-out_dataset", "producerSubtask": "for-loop-2" } ] })
    );
    // A fan-in without `list = true` is a type error.
    let v = json!({
        "groups": { "l": { "for_each": { "items": ["a"] } } },
        "steps": {
            "d": { "group": "l", "image": "x", "outputs": { "o": { "kind": "Dataset" } } },
            "u": { "image": "x", "inputs": { "i": { "from": "steps.d.outputs.o" } } }
        }
    });
    assert_eq!(err_codes("p", v), vec!["K0411"]);
    // Exit handler: the steps go into exit-handler-1, the exit task runs after it.
    let s = spec(
        "pipeline-with-exit-handler",
        json!({
            "params": { "message": { "String": { "default": "Hello World!" } } },
            "steps": { "print_op_2": { "image": "python:3.11", "inputs": { "message": { "from": "params.message" } } } },
            "on_exit": { "name": "print_op", "image": "python:3.11", "inputs": { "message": { "value": "Exit handler has worked!" } } }
        }),
    );
    let root = &s["root"]["dag"]["tasks"];
    assert_eq!(
        root["exit-handler-1"]["inputs"]["parameters"]["pipelinechannel--message"],
        json!({ "componentInputParameter": "message" })
    );
    assert_eq!(root["print-op"]["dependentTasks"], json!(["exit-handler-1"]));
    assert_eq!(
        root["print-op"]["triggerPolicy"],
        json!({ "strategy": "ALL_UPSTREAM_TASKS_COMPLETED" })
    );
    assert_eq!(
        s["components"]["comp-exit-handler-1"]["dag"]["tasks"]["print-op-2"]["inputs"]["parameters"]["message"],
        json!({ "componentInputParameter": "pipelinechannel--message" })
    );
}

#[test]
fn argo_dag_diamond_with_shared_template() {
    let msg = |m: &str| json!({ "template": "echo", "inputs": { "message": { "value": m } } });
    let mut b = msg("B");
    b["after"] = json!(["A"]);
    let mut c = msg("C");
    c["after"] = json!(["A"]);
    let mut d = msg("D");
    d["after"] = json!(["B", "C"]);
    let out = lower(
        "dag-diamond",
        json!({
            "engine": "argo",
            "argo": { "kind": "Workflow", "generate_name": true },
            "entrypoint": "diamond",
            "templates": { "echo": { "image": "busybox", "command": ["echo", "$(inputs.message)"], "inputs": { "message": {} } } },
            "steps": { "A": msg("A"), "B": b, "C": c, "D": d }
        }),
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    let wf = &out[0];
    assert_eq!(wf["kind"], json!("Workflow"));
    assert_eq!(wf["metadata"]["generateName"], json!("dag-diamond-"));
    assert_eq!(wf["spec"]["entrypoint"], json!("diamond"));
    let t = &wf["spec"]["templates"];
    assert_eq!(t[0]["name"], json!("diamond"));
    assert_eq!(
        t[0]["dag"]["tasks"][3],
        json!({ "name": "D", "depends": "B && C", "template": "echo", "arguments": { "parameters": [ { "name": "message", "value": "D" } ] } })
    );
    assert_eq!(
        t[1],
        json!({ "name": "echo", "inputs": { "parameters": [ { "name": "message" } ] }, "container": { "image": "busybox", "command": ["echo", "{{inputs.parameters.message}}"] } })
    );
}

#[test]
fn argo_steps_mode_conditions_scripts_and_cron() {
    let out = lower(
        "coinflip",
        json!({
            "engine": "argo",
            "namespace": "ml",
            "schedule": "0 3 * * *",
            "mode": "steps",
            "steps": {
                "flip_coin": { "image": "python:alpine3.23", "command": ["python"], "script": "print('heads')\n", "outputs": { "result": { "stdout": true } } },
                "heads": { "image": "busybox", "command": ["sh", "-c"], "args": ["echo heads"], "when": { "ref": "steps.flip_coin.outputs.result", "value": "heads" } },
                "tails": { "image": "busybox", "command": ["sh", "-c"], "args": ["echo tails"], "when": { "ref": "steps.flip_coin.outputs.result", "value": "tails" }, "retries": { "limit": 3 } }
            }
        }),
    )
    .unwrap();
    assert_eq!(out[0]["kind"], json!("WorkflowTemplate"));
    assert_eq!(out[1]["kind"], json!("CronWorkflow"));
    assert_eq!(
        out[1]["spec"]["workflowSpec"],
        json!({ "workflowTemplateRef": { "name": "coinflip" } })
    );
    assert_eq!(out[1]["spec"]["schedules"], json!(["0 3 * * *"]));
    let t = &out[0]["spec"]["templates"];
    let steps = &t[0]["steps"];
    assert_eq!(
        steps[0],
        json!([{ "name": "flip-coin", "template": "flip-coin" }])
    );
    assert_eq!(
        steps[1][0]["when"],
        json!("{{steps.flip-coin.outputs.result}} == heads")
    );
    assert_eq!(t[1]["script"]["source"], json!("print('heads')\n"));
    assert!(t[1].get("outputs").is_none());
    assert_eq!(t[3]["retryStrategy"], json!({ "limit": 3 }));
}

#[test]
fn argo_loops_artifacts_and_resources() {
    let out = lower(
        "p",
        json!({
            "engine": "argo",
            "steps": {
                "gen": { "image": "busybox", "outputs": { "hello-art": { "kind": "Artifact", "path": "/tmp/hello.txt" } } },
                "use": { "image": "busybox", "inputs": { "message": { "kind": "Artifact", "path": "/tmp/message", "from": "steps.gen.outputs.hello-art" } } },
                "loop": { "image": "busybox", "args": ["$(inputs.m)"], "inputs": { "m": { "value": "$(item)" } }, "for_each": { "items": ["a", "b"] }, "after": ["use"] },
                "job": { "resource": { "action": "create", "manifest": "kind: Job\n", "success_condition": "status.succeeded > 2", "set_owner_reference": true },
                    "outputs": { "job-name": { "json_path": "{.metadata.name}" } } }
            }
        }),
    )
    .unwrap();
    let tasks = &out[0]["spec"]["templates"][0]["dag"]["tasks"];
    assert_eq!(
        tasks[1]["arguments"]["artifacts"],
        json!([{ "name": "message", "from": "{{tasks.gen.outputs.artifacts.hello-art}}" }])
    );
    assert_eq!(tasks[1]["depends"], json!("gen"));
    assert_eq!(tasks[2]["withItems"], json!(["a", "b"]));
    assert_eq!(
        tasks[2]["arguments"]["parameters"],
        json!([{ "name": "m", "value": "{{item}}" }])
    );
    let t = &out[0]["spec"]["templates"];
    assert_eq!(
        t[2]["inputs"]["artifacts"],
        json!([{ "name": "message", "path": "/tmp/message" }])
    );
    assert_eq!(
        t[4]["resource"]["successCondition"],
        json!("status.succeeded > 2")
    );
    assert_eq!(
        t[4]["outputs"]["parameters"],
        json!([{ "name": "job-name", "valueFrom": { "jsonPath": "{.metadata.name}" } }])
    );
}
