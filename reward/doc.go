// Package reward scores generated images for subject-driven generation, the signal RPO learns from.
//
// RPO (Miao et al., "Subject-driven Text-to-Image Generation via Preference-based Reinforcement
// Learning", NeurIPS 2024) judges an image by two normalised similarities of ALIGN embeddings:
// ALIGN-I, the mean of (cos+1)/2 between the image and each reference image of the subject, and
// ALIGN-T, (cos+1)/2 between the image and its prompt (with the unique token such as "[V]"
// removed). Harmonic combines them into the λ-Harmonic reward.
//
// This package owns the arithmetic of the reward. The embedding models that produce the
// similarities live in package align; the Scorer that holds a reference set and the paper's
// evaluation metrics (DINO, CLIP-I, CLIP-T) arrive with them.
package reward
