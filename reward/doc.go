// Package reward scores generated images for subject-driven generation, the signal RPO learns from.
//
// RPO (Miao et al., "Subject-driven Text-to-Image Generation via Preference-based Reinforcement
// Learning", NeurIPS 2024) judges an image by two normalised similarities of ALIGN embeddings:
// ALIGN-I, the mean of (cos+1)/2 between the image and each reference image of the subject, and
// ALIGN-T, (cos+1)/2 between the image and its prompt (with the unique token such as "[V]"
// removed). Harmonic combines them into the λ-Harmonic reward.
//
// A Scorer holds one subject's reference set and gives each image its ALIGN-I, ALIGN-T and
// reward; DINO, CLIPI and CLIPT are the paper's evaluation metrics, and a Report aggregates them
// over images, prompts and subjects into JSON or a Markdown table. The embedding models plug in
// through two small interfaces, ImageEmbedder and Embedder, which the encoders of package align
// satisfy; any other model (or a test fake) can stand in. Prompts lose their subject token before
// text embedding; StripToken is the official code's rule bit for bit and StripWord, the default,
// the rule it meant (they differ for "[V]").
package reward
