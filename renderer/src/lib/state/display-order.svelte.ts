// The order in which the ranking workspace shows the item on screen: candidate indices, first
// shown first. Letters A, B, C… name screen positions, so while an item is shown `letter()` maps a
// candidate to its position; rankings keep naming candidates by index. Null elsewhere (the
// adjudication queue shows candidates in their stored order).
export const displayOrder = $state<{order: number[] | null}>({order: null});
