// Package experiment runs a whole study from one config
// (configs/study-*.yaml), the work of `seqdiff experiment`: prep, builtin
// tasks, MLM pre-training, generative fine-tuning by MDLM and AR (or
// models given as checkpoints), test perplexity, downstream tasks over
// seeds, the k-mer baselines, sampling speed, figures and report.md.
//
// Each stage writes its output atomically and is skipped when the output
// exists, so a killed study resumes where it stopped: training runs live
// in OUT/models/.M.partial until they finish and resume from their last
// checkpoint. A study directory is stamped with its resolved config
// (study.yaml) and locked while a study runs in it.
package experiment
