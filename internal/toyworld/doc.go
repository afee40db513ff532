// Package toyworld is gorpo's synthetic world: 32×32 pictures of one object in a context, small
// enough that a text-to-image diffusion model, an ALIGN-style reward model and judge classifiers
// can be trained on a few CPU cores, and rich enough that subject-driven generation is a real
// task whose success can be measured against ground truth.
//
// The world has
//   - contexts named as the prompts name them (Contexts): DreamBench's twenty re-contextualisations
//     ("in the jungle", "on top of pink fabric", ...), the official RPO code's training ones ("on
//     the Moon", "in Vincent Van Gogh rendition", a painting filter over the whole picture, ...),
//     its two validation ones, and three reference ones (a sofa, a table, a bed) that no prompt
//     names;
//   - classes (Classes): ball, box, star, cup, sneaker, toy (a robot), backpack, can, and two live
//     ones with eyes, dog and cat, which can wear accessories (Accessories: hats, a scarf,
//     glasses, outfits);
//   - colour words (Colors) for any object;
//   - subjects (Subjects): particular instances (a red ball with white stripes and a blue dot, a
//     spotted mug, a robot with a heart and one square eye, a three-colour sneaker, a dog with an
//     eye patch, a tabby cat) whose look the generic vocabulary cannot describe, each with 4–6
//     reference renders in one or two fixed contexts, so the references carry a background bias
//     as DreamBench's photos do.
//
// Render draws a Scene deterministically from its Seed (supersampled 4× and box-filtered, so
// edges are anti-aliased) and returns the truth about it (Labels). Caption writes DreamBench-style
// captions of generic scenes for pretraining; subjects appear only through their token, in
// TrainingPrompts (RPO's 8), EvaluationPrompts (DreamBench's 25, disjoint from the training ones),
// ValidationPrompts and SubjectPrompt. ParsePrompt reads any of them back into an Intent from the
// same tables, so an evaluation can grade whether a generated picture shows the asked-for
// context, colour and accessory.
//
// GenericScene and SubjectScene draw random scenes from a seed, for data sets. Render keeps no
// shared state: render on as many goroutines as there are cores.
//
// Same seed, same bytes: the random stream is the package's own (SplitMix64), so renders do not
// change with the Go release. Floating-point fusion on other architectures can move an edge by a
// sub-pixel; compare renders across machines with a tolerance.
package toyworld
